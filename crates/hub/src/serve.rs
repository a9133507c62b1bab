//! Accepting connections with limits, so a hostile client cannot starve the
//! hub of file descriptors, memory or attention.
//!
//! - A client must send a request's headers within `header_read_timeout`
//!   (hyper's own timer); the same timer closes an idle keep-alive
//!   connection waiting for its next request. Slowloris costs a connection
//!   for that long, no more.
//! - A response that the client does not read for `write_stall_timeout`
//!   (its socket buffer full) ends the connection: a stalled feed subscriber
//!   is cut off and resumes with `Last-Event-ID`, losing nothing.
//! - At most `max_connections` connections at once, and `max_per_ip` from one
//!   address; one more is answered `503 {code: "server_busy"}` and closed,
//!   and the accept loop never stops on an error (out of descriptors: it
//!   pauses and retries).
//! - At start-up the soft descriptor limit is raised to the hard limit, and
//!   `max_connections` is capped below what it allows.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The connection limits; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_ip: usize,
    pub header_read_timeout: Duration,
    pub write_stall_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: 16_384, max_per_ip: 4_096, header_read_timeout: Duration::from_secs(10), write_stall_timeout: Duration::from_secs(30) }
    }
}

/// Connections over the limits answered 503 at once; more are closed unanswered.
const MAX_REFUSALS: usize = 64;

/// Descriptors kept for the database, logs and the 503 answers.
const FD_RESERVE: u64 = 64;

/// Raise the soft limit on open files to the hard limit; returns the soft
/// limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

impl Limits {
    /// These limits, with `max_connections` lowered to fit `fd_limit`.
    pub fn within_fds(mut self, fd_limit: u64) -> Limits {
        let room = fd_limit.saturating_sub(FD_RESERVE).max(16);
        self.max_connections = self.max_connections.min(usize::try_from(room).unwrap_or(usize::MAX)).max(1);
        self.max_per_ip = self.max_per_ip.min(self.max_connections).max(1);
        self
    }
}

/// Counts connections per address; a slot is given back when dropped.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

struct IpSlot(Arc<PerIp>, IpAddr);

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut m = self.0.lock().expect("per-ip map");
        let n = m.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.0 .0.lock().expect("per-ip map");
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then let the open
/// requests finish (for at most five seconds).
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Answering the ones over the limit costs a descriptor for a moment each:
    // a few at a time; past that, a refused connection is just closed.
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let mut connections = tokio::task::JoinSet::new();
    let per_ip = Arc::new(PerIp::default());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // Well above the hub's own limits (`app::MAX_HEADER_COUNT` and friends),
    // so the hub, not hyper, answers an oversized head, with a JSON body;
    // only a head beyond these gets hyper's bodiless 431.
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true).max_headers(4 * crate::app::MAX_HEADER_COUNT);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept:
                    // never fatal; pause so a full table can drain.
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let admitted = slots.clone().try_acquire_owned().ok().zip(per_ip.take(peer.ip(), limits.max_per_ip));
        let Some((slot, ip_slot)) = admitted else {
            if let Ok(permit) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.write_stall_timeout));
        let io = TokioIo::new(Box::pin(io));
        let conn = http.serve_connection(io, TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        connections.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop((slot, ip_slot));
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after 5 s; closing them");
        connections.abort_all();
    }
    Ok(())
}

/// The answer to a connection over the limits: a complete HTTP response
/// with a JSON body, after reading what the client sent first (so closing
/// does not reset the connection before the client reads the answer).
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = r#"{"code":"server_busy","message":"the hub is at its connection limit; retry shortly"}"#;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(BODY.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}
