//! The roots are read by the first certificate check, not by building a
//! client; `-k` never reads them. Each test is its own process under
//! nextest, so the process-wide store starts unread in each.

use appstrate_testkit::recorder::Recorder;
use appstrate_tls::{
    Verification, client_builder, client_builder_with, client_config, roots_loaded,
};

#[tokio::test]
async fn building_clients_reads_no_roots_and_the_first_handshake_does() {
    let client = client_builder()
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let _another = client_builder()
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    assert!(!roots_loaded(), "building a client read the roots");

    // Plain HTTP needs no certificate.
    let plain = Recorder::start();
    let reply = client
        .get(format!("{}/json", plain.url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("http: {e}"));
    assert!(reply.status().is_success());
    assert!(!roots_loaded(), "an http:// request read the roots");

    // A self-signed server is checked against the roots, and refused.
    let tls = Recorder::start_tls();
    let refused = client.get(format!("{}/json", tls.url())).send().await;
    assert!(refused.is_err(), "a self-signed certificate was trusted");
    assert!(roots_loaded(), "the handshake did not load the roots");
}

#[tokio::test]
async fn skipping_verification_reads_no_roots_and_negotiates_http2() {
    let tls = Recorder::start_tls();
    let client = client_builder_with(Verification::Skip)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let reply = client
        .get(format!("{}/json", tls.url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("https with -k: {e}"));
    assert_eq!(reply.version(), reqwest::Version::HTTP_2);
    assert!(!roots_loaded());
}

#[test]
fn the_configuration_offers_http2_then_http1() {
    for verification in [Verification::Roots, Verification::Skip] {
        let config = client_config(verification);
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(config.enable_sni);
    }
}
