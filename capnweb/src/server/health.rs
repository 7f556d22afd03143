//! Health and readiness: the two paths an orchestrator probes, the [`Readiness`] they report,
//! and the [`Server`] settings that turn them on and shape the drain a rolling update needs.
//!
//! The probes answer from one atomic load each: no session, no connection slot, no origin or
//! auth check, none of the server's layers. They must not do more: a probe is sent every few
//! seconds by every balancer and kubelet, and its answer must not depend on the RPC side's load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::Server;

/// Whether a server says it is ready for new sessions, on its readiness path (see
/// [`Server::health_paths`]): it is while the application has not said otherwise
/// ([`set_ready`](Self::set_ready)) and no drain has begun.
///
/// Cloning it shares the same state. Every server has one from the start, ready, whether or not
/// it serves the health paths; [`Server::readiness`] hands it out.
///
/// ```
/// use capnweb::Server;
/// let server = Server::bind("127.0.0.1:0").health_paths("/livez", "/readyz");
/// let readiness = server.readiness();
/// readiness.set_ready(false); // warming up: /readyz answers 503
/// assert!(!readiness.is_ready());
/// // ... caches filled, connections made ...
/// readiness.set_ready(true); // /readyz answers 200
/// assert!(readiness.is_ready());
/// # drop(server);
/// ```
#[derive(Clone, Default)]
pub struct Readiness(Arc<State>);

#[derive(Default)]
struct State {
    /// Set by the application: `true` when it is not ready (so that the default is ready).
    held_back: AtomicBool,
    /// Set once, when the server's drain begins; never cleared.
    draining: AtomicBool,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("ready", &self.is_ready())
            .field("draining", &self.0.draining.load(Ordering::Relaxed))
            .finish()
    }
}

impl Readiness {
    /// Says whether the application is ready for new sessions (during warm-up, say, or while
    /// something it needs is down). It takes effect on the next probe. Once a drain has begun
    /// the server stays unready, whatever this says.
    pub fn set_ready(&self, ready: bool) {
        self.0.held_back.store(!ready, Ordering::Release);
    }

    /// What the readiness path answers now: `true` (`200`) while the application is ready and
    /// no drain has begun, `false` (`503`) otherwise.
    pub fn is_ready(&self) -> bool {
        !self.0.held_back.load(Ordering::Acquire) && !self.0.draining.load(Ordering::Acquire)
    }

    /// What the readiness path says: ready, draining, or held back by the application.
    fn answer(&self) -> (bool, &'static str) {
        if self.0.draining.load(Ordering::Acquire) {
            (false, "draining")
        } else if self.0.held_back.load(Ordering::Acquire) {
            (false, "not ready")
        } else {
            (true, "ready")
        }
    }

    /// The drain has begun: unready for good.
    pub(crate) fn drain_begins(&self) {
        self.0.draining.store(true, Ordering::Release);
    }
}

/// The paths of the two probes.
#[derive(Clone, Debug)]
pub(crate) struct HealthPaths {
    pub(crate) live: String,
    pub(crate) ready: String,
}

impl Server {
    /// Serves a liveness probe at `live` and a readiness probe at `ready`, on the server's own
    /// address, to `GET` and `HEAD`. Default off: both paths are then unknown (`404`).
    ///
    /// - `live` answers `200` whenever the server answers at all, draining included.
    /// - `ready` answers `200` while the server takes new sessions, and `503` once the
    ///   application says it is not ready ([`Readiness::set_ready`]) or as soon as the shutdown
    ///   signal fires (see [`unready_delay`](Self::unready_delay)), so that a load balancer
    ///   sends new sessions elsewhere while those open finish.
    ///
    /// Neither is a session or takes a connection slot, and neither goes through the
    /// [auth hook](Self::auth), the [origin checks](Self::allowed_origins) or the server's
    /// [layers](Self::layer). The paths must differ from each other and from the
    /// [routes](Self::route)' (building the router panics otherwise, as axum does for two routes
    /// on one path). The same paths are on the [`router`](Self::router) for a service of your own.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use capnweb::{Server, Stub};
    /// Server::bind("0.0.0.0:8080")
    ///     .health_paths("/livez", "/readyz")
    ///     .unready_delay(Duration::from_secs(5)) // /readyz is 503 this long before we stop accepting
    ///     .shutdown_grace(Duration::from_secs(20)) // then calls in flight have this long
    ///     .serve(|| Stub::resolved(0.into()))
    ///     .await
    /// # }
    /// ```
    pub fn health_paths(mut self, live: impl Into<String>, ready: impl Into<String>) -> Server {
        self.settings.health = Some(HealthPaths {
            live: live.into(),
            ready: ready.into(),
        });
        self
    }

    /// How long, once the shutdown signal fires, the server keeps accepting new connections
    /// and sessions while its readiness path already answers `503`: time for load balancers to
    /// see it unready and stop sending it new sessions. Then it stops accepting and gives the
    /// sessions open their [grace](Self::shutdown_grace). Default zero: it stops accepting at
    /// once. (Orchestrators take about a probe period or two to notice: Kubernetes, for one,
    /// `periodSeconds × failureThreshold` of the readiness probe, plus the time its endpoints
    /// take to reach every node.)
    ///
    /// A shutdown then takes up to `unready_delay + shutdown_grace` (and a second for peers
    /// to close): the orchestrator's own deadline (Kubernetes'
    /// `terminationGracePeriodSeconds`) must be longer.
    pub fn unready_delay(mut self, delay: Duration) -> Server {
        self.settings.unready_delay = delay;
        self
    }

    /// The readiness this server's readiness path reports, for the application to mark it
    /// unready ([`Readiness::set_ready`]) during warm-up, say. Shared: every clone, and the
    /// server once started, see the same state.
    pub fn readiness(&self) -> Readiness {
        self.settings.readiness.clone()
    }
}

/// Adds the probes of `paths` to `router`, outside its layers, refusing paths already taken.
pub(crate) fn add_routes(
    router: Router,
    paths: &HealthPaths,
    taken: &[String],
    readiness: Readiness,
) -> Router {
    for path in [&paths.live, &paths.ready] {
        assert!(
            !taken.contains(path),
            "the health path {path} is also a route of the server"
        );
    }
    assert!(
        paths.live != paths.ready,
        "the liveness and readiness paths are the same: {}",
        paths.live
    );
    // `get` answers `HEAD` too (without the body); other methods get `405`.
    router
        .route(
            &paths.live,
            axum::routing::get(|| async { probe(true, "live") }),
        )
        .route(
            &paths.ready,
            axum::routing::get(move || {
                let (ready, body) = readiness.answer();
                async move { probe(ready, body) }
            }),
        )
}

fn probe(ok: bool, body: &'static str) -> Response {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Never cached: each probe must see the state of now.
    (status, [(header::CACHE_CONTROL, "no-store")], body).into_response()
}
