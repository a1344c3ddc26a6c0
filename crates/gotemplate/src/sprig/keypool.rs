//! RSA-2048 keys generated ahead of need, on their own threads.
//!
//! Sprig's `genCA`, `genSelfSignedCert` and `genSignedCert` each make a
//! fresh RSA-2048 key; finding its primes takes far longer than the rest
//! of a render (most of a chart that calls two of them). An embedder that
//! sees such calls in its templates says how many with
//! [`expect_rsa_keys`]; nothing is generated until a template really asks
//! for a key (the calls often sit in branches the values do not take, as
//! in charts that make a webhook certificate only when asked). At that
//! first call the other expected keys start on background threads, in
//! parallel with this one and with the rest of the render, and the
//! functions take them in turn. Every key is still fresh, random and used
//! once; a key not taken waits for the next call in the process, and the
//! pool never holds more than [`MAX_PREPARED`] keys, so expecting too many
//! wastes at most that much work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{LazyLock, Mutex};

use super::keys::PrivateKey;

/// Most keys prepared and not yet taken.
pub const MAX_PREPARED: usize = 4;

type Pending = Receiver<Result<PrivateKey, String>>;

static POOL: LazyLock<Mutex<Vec<Pending>>> = LazyLock::new(|| Mutex::new(Vec::new()));

fn pool() -> std::sync::MutexGuard<'static, Vec<Pending>> {
    // A panic while holding the lock leaves a valid Vec; keep using it.
    POOL.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keys the latest render said it may ask for and has not started yet.
static EXPECTED: AtomicUsize = AtomicUsize::new(0);

/// Says a render may ask for up to `count` RSA-2048 keys; they are made
/// from its first request on (see the module doc).
pub fn expect_rsa_keys(count: usize) {
    EXPECTED.store(count, Ordering::Relaxed);
}

/// Starts generating RSA-2048 keys on background threads until `count`
/// (at most [`MAX_PREPARED`]) are prepared or in the making.
fn prepare_rsa_keys(count: usize) {
    let mut pending = pool();
    while pending.len() < count.min(MAX_PREPARED) {
        let (send, receive) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("rsa-keygen".to_owned())
            .spawn(move || {
                // The receiver may be gone (process ending): nothing to do.
                let _ = send.send(PrivateKey::generate_rsa(2048));
            });
        if spawned.is_err() {
            // No thread to spare: the functions generate on the spot.
            return;
        }
        pending.push(receive);
    }
}

/// A prepared RSA-2048 key (waiting for it if still in the making), or a
/// new one when none was prepared.
pub(crate) fn take_rsa_2048() -> Result<PrivateKey, String> {
    let expected = EXPECTED.swap(0, Ordering::Relaxed);
    if expected > 1 {
        prepare_rsa_keys(expected);
    }
    // The oldest is the likeliest to be ready.
    let prepared = {
        let mut pending = pool();
        (!pending.is_empty()).then(|| pending.remove(0))
    };
    match prepared.and_then(|receive| receive.recv().ok()) {
        Some(key) => key,
        None => PrivateKey::generate_rsa(2048),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_keys_start_at_the_first_request_distinct_and_bounded() {
        expect_rsa_keys(MAX_PREPARED + 3);
        assert!(pool().is_empty(), "a key was made before any was asked for");
        let a = take_rsa_2048().expect("a key").to_pem();
        assert!(
            pool().len() < MAX_PREPARED,
            "more than the bound in the making"
        );
        let b = take_rsa_2048().expect("a key").to_pem();
        assert_ne!(a, b);
        assert!(a.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    }
}
