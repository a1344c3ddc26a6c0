//! Waiting for the signal that ends a long-running command (`controller`,
//! `sandbox`, `quickstart`): each then stops cleanly, removing what it
//! made, whichever way it was asked to stop.

/// Ctrl-C (SIGINT) or SIGTERM, whichever comes first: SIGTERM is what
/// `kill`, `timeout`, systemd and Kubernetes send.
pub async fn requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
