//! A TCP proxy on loopback whose behaviour a test switches at run time, to
//! make a server (a git daemon, say) fail in the ways real ones do without
//! changing the address clients know: pass traffic through, answer junk,
//! accept and never answer, refuse (close at once), or cut the answer off
//! after some bytes (a server killed mid-transfer).
//!
//! Each new connection reads the mode once, when it is accepted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways to the upstream.
    Pass,
    /// Read the request, answer with bytes no protocol accepts, then close.
    Junk,
    /// Accept, read, and never answer (until the client gives up).
    Hang,
    /// Close the connection as soon as it is accepted (a dead server).
    Refuse,
    /// Forward, but close after this many bytes of the upstream's answer.
    CutAfter(usize),
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let shared = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = *shared.lock().unwrap_or_else(PoisonError::into_inner);
                tokio::spawn(serve(client, upstream, mode));
            }
        });
        Proxy { addr, mode, task }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Switches the mode for the connections accepted from now on.
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, mode: Mode) {
    let mut buffer = [0_u8; 4096];
    match mode {
        Mode::Refuse => {}
        Mode::Junk => {
            let _ = client.read(&mut buffer).await;
            let _ = client
                .write_all(b"\xff\xfe this is not a protocol answer \x00\x01\r\n\r\n")
                .await;
        }
        Mode::Hang => {
            // Hold the connection open, reading whatever comes, until the client leaves.
            while matches!(client.read(&mut buffer).await, Ok(n) if n > 0) {}
        }
        Mode::Pass => {
            if let Ok(mut server) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        }
        Mode::CutAfter(limit) => {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut from_server, mut to_server) = tokio::io::split(server);
            let (mut client_read, mut client_write) = client.into_split();
            let upload = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut to_server).await;
            });
            let mut sent = 0;
            while sent < limit {
                let n = match from_server.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n.min(limit - sent),
                };
                if client_write.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
                sent += n;
            }
            // The cut ends the connection both ways, as a killed server's would.
            upload.abort();
        }
    }
}
