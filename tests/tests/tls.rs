//! TLS end to end with certificates made in the test (rcgen): our server terminating TLS,
//! `wss://` and `https://` clients trusting a private certificate authority, a refused
//! untrusted certificate, client certificates, a certificate reloaded while the server runs,
//! and peers that never finish their handshake.

use std::sync::Arc;
use std::time::Duration;

use capnweb::tls::{ClientTls, ServerTls};
use capnweb::{Client, HttpBatch, RpcError, Server, SessionOptions};
use capnweb_examples::interop::{test_target, TestTargetClient};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use tokio::io::AsyncReadExt;

/// A certificate authority, and what it signs.
struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as PEM.
struct Issued {
    cert: String,
    key: String,
}

impl Issued {
    /// A server serving this certificate.
    fn server_tls(&self) -> ServerTls {
        ServerTls::from_pem(self.cert.as_bytes(), self.key.as_bytes()).unwrap()
    }
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Authority { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    fn issue(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn server_cert(&self) -> Issued {
        self.issue("localhost", ExtendedKeyUsagePurpose::ServerAuth)
    }
}

/// Our interop server with `tls`; its port.
async fn serve(tls: ServerTls, configure: impl FnOnce(Server) -> Server) -> u16 {
    let server = configure(Server::bind("127.0.0.1:0").tls(tls));
    let (addr, run) = server.listen(test_target).await.unwrap();
    tokio::spawn(run);
    addr.port()
}

fn trusting(authority: &Authority) -> Arc<capnweb::tls::rustls::ClientConfig> {
    ClientTls::empty()
        .with_root_pem(authority.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap()
}

async fn connect(
    port: u16,
    tls: Arc<capnweb::tls::rustls::ClientConfig>,
) -> Result<TestTargetClient, RpcError> {
    let url = format!("wss://localhost:{port}/");
    let session =
        capnweb::client::connect_with_tls(&url, None, SessionOptions::default(), tls).await?;
    Ok(TestTargetClient::from(session.into_main()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_and_https_reach_our_tls_server_through_a_private_authority() {
    let ca = Authority::new("test CA");
    let leaf = ca.server_cert();
    let port = serve(leaf.server_tls(), |s| s).await;
    let tls = trusting(&ca);

    let main = connect(port, tls.clone()).await.unwrap();
    assert_eq!(main.square(7).await.unwrap(), 49.0);
    let counter = main.make_counter(1);
    assert_eq!(counter.increment(2).await.unwrap(), 3.0);

    let batch = HttpBatch::<TestTargetClient>::with_tls(
        &format!("https://localhost:{port}/"),
        vec![],
        tls.clone(),
    );
    let api = batch.main();
    assert_eq!(api.square(api.square(3)).await.unwrap(), 81.0);

    let client = Client::<TestTargetClient>::builder()
        .endpoint(format!("wss://localhost:{port}/"))
        .tls(tls)
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|api| api.square(5)).await.unwrap(), 25.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_no_trusted_authority_signed_is_refused() {
    let ca = Authority::new("test CA");
    let leaf = ca.server_cert();
    let port = serve(leaf.server_tls(), |s| s).await;

    // The default roots (Mozilla's) do not include the test's authority.
    let refused = capnweb::connect::<TestTargetClient>(&format!("wss://localhost:{port}/")).await;
    match refused {
        Err(RpcError::Disconnected {
            reason,
            maybe_delivered: false,
        }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("expected a refused certificate, got {other:?}"),
    }
    // Nor another authority's.
    let other = Authority::new("another CA");
    assert!(connect(port, trusting(&other)).await.is_err());
    let batch = HttpBatch::<TestTargetClient>::new(&format!("https://localhost:{port}/"));
    assert!(batch.main().square(2).await.is_err());
    // The server still serves those who trust it.
    assert_eq!(
        connect(port, trusting(&ca))
            .await
            .unwrap()
            .square(2)
            .await
            .unwrap(),
        4.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_requiring_client_certificates_admits_only_those_its_authority_issued() {
    let ca = Authority::new("test CA");
    let clients = Authority::new("client CA");
    let leaf = ca.server_cert();
    let tls = ServerTls::requiring_client_certs(
        leaf.cert.as_bytes(),
        leaf.key.as_bytes(),
        clients.pem().as_bytes(),
    )
    .unwrap();
    let port = serve(tls, |s| s).await;

    // No certificate.
    assert!(connect(port, trusting(&ca)).await.is_err());
    // One from an authority the server does not accept.
    let stranger =
        Authority::new("stranger CA").issue("mallory", ExtendedKeyUsagePurpose::ClientAuth);
    let with = |id: &Issued| {
        ClientTls::empty()
            .with_root_pem(ca.pem().as_bytes())
            .unwrap()
            .with_identity_pem(id.cert.as_bytes(), id.key.as_bytes())
            .unwrap()
            .build()
            .unwrap()
    };
    // The handshake may complete before the server's refusal arrives: then the first call fails.
    if let Ok(main) = connect(port, with(&stranger)).await {
        assert!(main.square(1).await.is_err());
    }
    // One it issued.
    let alice = clients.issue("alice", ExtendedKeyUsagePurpose::ClientAuth);
    let main = connect(port, with(&alice)).await.unwrap();
    assert_eq!(main.square(9).await.unwrap(), 81.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_certificate_is_served_to_new_connections_without_a_restart() {
    let old_ca = Authority::new("old CA");
    let new_ca = Authority::new("new CA");
    let old = old_ca.server_cert();
    let tls = old.server_tls();
    let port = serve(tls.clone(), |s| s).await;

    let before = connect(port, trusting(&old_ca)).await.unwrap();
    assert!(connect(port, trusting(&new_ca)).await.is_err());

    // A key that does not match its certificate is refused, and the old pair stays.
    let other = new_ca.server_cert();
    assert!(tls
        .reload(old.cert.as_bytes(), other.key.as_bytes())
        .is_err());
    assert!(connect(port, trusting(&old_ca)).await.is_ok());

    let renewed = new_ca.server_cert();
    tls.reload(renewed.cert.as_bytes(), renewed.key.as_bytes())
        .unwrap();
    let after = connect(port, trusting(&new_ca)).await.unwrap();
    assert_eq!(after.square(3).await.unwrap(), 9.0);
    assert!(connect(port, trusting(&old_ca)).await.is_err());
    // The session opened before the reload goes on.
    assert_eq!(before.square(4).await.unwrap(), 16.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_never_finish_their_handshake_are_dropped_while_others_are_served() {
    let ca = Authority::new("test CA");
    let leaf = ca.server_cert();
    let tls = leaf.server_tls();
    let port = serve(tls, |s| s.header_timeout(Duration::from_millis(500))).await;

    // Fifty connections that send nothing, and fifty that send half a ClientHello.
    let mut stalled = Vec::new();
    for i in 0..100 {
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        if i % 2 == 1 {
            use tokio::io::AsyncWriteExt;
            socket
                .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .await
                .unwrap();
        }
        stalled.push(socket);
    }
    // A well-behaved client is served meanwhile.
    let main = connect(port, trusting(&ca)).await.unwrap();
    assert_eq!(main.square(6).await.unwrap(), 36.0);
    // And every stalled one is closed by the server after the timeout.
    for mut socket in stalled {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await;
        match read {
            Ok(Ok(0) | Err(_)) => {}
            Ok(Ok(n)) => {
                // An alert first, then the close.
                let rest =
                    tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await;
                assert!(
                    matches!(rest, Ok(Ok(0) | Err(_))),
                    "{n} bytes, then still open"
                );
            }
            Err(_) => panic!("a stalled handshake was kept open past the timeout"),
        }
    }
    assert_eq!(main.square(7).await.unwrap(), 49.0);
}
