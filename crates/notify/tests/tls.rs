//! `ca.crt` from `certSecretRef`: a provider behind a private CA fails
//! without it and succeeds with it.

use std::sync::Arc;

use driftless_notify::{
    Notifier, NotifyError, ProviderConfig, ProviderType, Severity, TlsOptions, TransportKind,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

/// A one-request-per-connection HTTPS server answering 200; returns the URL
/// and the CA PEM, and counts the requests it read.
async fn https_server() -> (String, String, Arc<std::sync::atomic::AtomicUsize>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let certs = vec![CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap()];
    let private = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, private)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/hook", listener.local_addr().unwrap());
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut buf = vec![0u8; 64 * 1024];
            let Ok(n) = tls.read(&mut buf).await else {
                continue;
            };
            if buf[..n].starts_with(b"POST /hook") {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            let _ = tls.shutdown().await;
        }
    });
    (url, cert.pem(), served)
}

#[tokio::test]
async fn private_ca_is_trusted_only_when_given() {
    let (url, ca_pem, served) = https_server().await;
    let untrusted = Notifier::new(ProviderConfig::new(ProviderType::Generic, url.clone())).unwrap();
    let err = untrusted
        .send(&support::event(Severity::Info))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NotifyError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err}"
    );

    let mut config = ProviderConfig::new(ProviderType::Generic, url);
    config.tls = TlsOptions {
        ca_pem: Some(ca_pem.into_bytes()),
        ..Default::default()
    };
    Notifier::new(config)
        .unwrap()
        .send(&support::event(Severity::Info))
        .await
        .unwrap();
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
}
