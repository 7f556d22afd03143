//! What the server knows of a connection before its session exists: [`ConnectInfo`], the auth
//! hook's verdict ([`AuthRejection`]), and the factory that makes each main object.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};

use crate::stub::{BoxFuture, Stub};
use crate::typed::IntoStub;

/// A WebSocket upgrade or HTTP batch request, as the auth hook and the main-object factory see
/// it.
#[derive(Clone, Debug)]
pub struct ConnectInfo {
    /// The request's headers.
    pub headers: HeaderMap,
    /// The peer's address, when the server knows it (always with [`Server`](super::Server)).
    pub peer: Option<SocketAddr>,
    /// The request path.
    pub path: String,
    /// The request's extensions: what tower or axum layers in front of the server put there
    /// (an auth layer's verdict, say); read them with [`extension`](Self::extension).
    pub extensions: Extensions,
    identity: Option<Arc<dyn Any + Send + Sync>>,
}

impl ConnectInfo {
    /// Copies `headers`: the request's own values share hyper's whole read buffer (16 KiB),
    /// which a copy kept for the session would otherwise pin per connection.
    pub(crate) fn new(
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        path: String,
        extensions: Extensions,
    ) -> Self {
        let mut own = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let copied =
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            own.append(name.clone(), copied);
        }
        ConnectInfo {
            headers: own,
            peer,
            path,
            extensions,
            identity: None,
        }
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request extension of type `T`, if a layer put one there.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get::<T>()
    }

    /// The identity the auth hook returned, if it is a `T`.
    pub fn identity<T: Any>(&self) -> Option<&T> {
        self.identity.as_deref()?.downcast_ref()
    }

    pub(crate) fn with_identity(mut self, identity: Arc<dyn Any + Send + Sync>) -> Self {
        self.identity = Some(identity);
        self
    }
}

/// Why the auth hook refused a connection; answered as an HTTP error before any session exists.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthRejection {
    /// 401: no or bad credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: credentials fine, access refused.
    #[error("forbidden: {0}")]
    Forbidden(String),
}

impl AuthRejection {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            AuthRejection::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AuthRejection::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }
}

/// The auth hook, type-erased: an identity for the factory, or a rejection.
pub(crate) type AuthHook = Arc<
    dyn Fn(ConnectInfo) -> BoxFuture<Result<Arc<dyn Any + Send + Sync>, AuthRejection>>
        + Send
        + Sync,
>;

pub(crate) fn auth_hook<F, Fut, T>(hook: F) -> AuthHook
where
    F: Fn(ConnectInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AuthRejection>> + Send + 'static,
    T: Any + Send + Sync,
{
    Arc::new(move |info| {
        let fut = hook(info);
        Box::pin(async move { fut.await.map(|t| Arc::new(t) as Arc<dyn Any + Send + Sync>) })
    })
}

/// Makes the main object for each new connection (or batch request): a closure returning a
/// [`Stub`], a generated `XxxServer` or any [`RpcTarget`](crate::RpcTarget). To see the
/// connection (its headers, or the identity the auth hook found), wrap a closure taking
/// `&ConnectInfo` in [`per_connection`].
pub trait MainFactory: Send + Sync + 'static {
    /// A new main object for the connection `info`.
    fn make(&self, info: &ConnectInfo) -> Stub;
}

impl<F, M> MainFactory for F
where
    F: Fn() -> M + Send + Sync + 'static,
    M: IntoStub,
{
    fn make(&self, _: &ConnectInfo) -> Stub {
        self().into_stub()
    }
}

/// A factory that sees the connection.
///
/// ```
/// use capnweb::server::{per_connection, ConnectInfo};
/// use capnweb::{RpcError, Stub, Value};
/// let factory = per_connection(|info: &ConnectInfo| {
///     let user = info.identity::<String>().cloned().unwrap_or_default();
///     Stub::from_fn(move |_: Vec<Value>| {
///         let user = user.clone();
///         async move { Ok::<_, RpcError>(Value::from(user)) }
///     })
/// });
/// # drop(factory);
/// ```
pub fn per_connection<F, M>(f: F) -> PerConnection<F>
where
    F: Fn(&ConnectInfo) -> M + Send + Sync + 'static,
    M: IntoStub,
{
    PerConnection(f)
}

/// See [`per_connection`].
pub struct PerConnection<F>(F);

impl<F> std::fmt::Debug for PerConnection<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PerConnection(..)")
    }
}

impl<F, M> MainFactory for PerConnection<F>
where
    F: Fn(&ConnectInfo) -> M + Send + Sync + 'static,
    M: IntoStub,
{
    fn make(&self, info: &ConnectInfo) -> Stub {
        (self.0)(info).into_stub()
    }
}
