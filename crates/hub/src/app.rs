//! Wiring: shared state, the router, background tasks, and `serve`.

use crate::error::ApiError;
use crate::policy::Policy;
use crate::routes;
use crate::store::Store;
use axum::body::HttpBody;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub policy: Arc<Policy>,
    /// Bearer token required on Lodestar's approval channel, if any.
    pub lodestar_token: Option<Arc<str>>,
    /// Loopback development mode: agents may propose without credentials,
    /// and an actor name that is a principal's id stands in for it.
    pub dev_open: bool,
    /// Most helpers one parent may have running at once.
    pub helper_cap: i64,
    /// How many feed streams and waiting long-polls may be open at once.
    pub capacity: Capacity,
}

/// Caps on what a connection may hold open for long: feed subscribers (a
/// 503 `too_many_subscribers` beyond) and waiting long-polls (beyond, a
/// long-poll answers at once with the current state, as with `wait_ms=0`).
#[derive(Clone)]
pub struct Capacity {
    pub feed: Arc<tokio::sync::Semaphore>,
    pub long_polls: Arc<tokio::sync::Semaphore>,
}

/// Default caps: 256 feed subscribers, 8,192 waiting long-polls.
pub const MAX_SUBSCRIBERS: usize = 256;
pub const MAX_LONG_POLLS: usize = 8_192;

impl Capacity {
    /// A long-poll's wait: as asked while under the cap (hold the permit for
    /// the wait's duration), none beyond it.
    pub fn long_poll(&self, wait: Duration) -> (Duration, Option<tokio::sync::OwnedSemaphorePermit>) {
        if wait.is_zero() {
            return (wait, None);
        }
        match self.long_polls.clone().try_acquire_owned() {
            Ok(p) => (wait, Some(p)),
            Err(_) => (Duration::ZERO, None),
        }
    }
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity { feed: Arc::new(tokio::sync::Semaphore::new(MAX_SUBSCRIBERS)), long_polls: Arc::new(tokio::sync::Semaphore::new(MAX_LONG_POLLS)) }
    }
}

pub struct HubConfig {
    pub listen: SocketAddr,
    pub db: PathBuf,
    pub policy: Policy,
    pub max_body_bytes: usize,
    pub lodestar_token: Option<String>,
    pub dev_open: bool,
    pub helper_cap: i64,
    /// A helper silent this long is reaped (stale at half of it).
    pub heartbeat_timeout: Duration,
    /// Connection limits and timeouts (see [`crate::serve`]).
    pub limits: crate::serve::Limits,
}

pub const DEFAULT_HELPER_CAP: i64 = 16;
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// A day: longer is a typo, and past chrono's range it would stop the sweep.
pub const MAX_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

impl HubConfig {
    /// A hub on `listen` with `db` and `policy`, every other setting at its
    /// default (closed, no Lodestar token); change fields with `..`.
    pub fn new(listen: SocketAddr, db: PathBuf, policy: Policy) -> HubConfig {
        HubConfig {
            listen,
            db,
            policy,
            max_body_bytes: DEFAULT_MAX_BODY,
            lodestar_token: None,
            dev_open: false,
            helper_cap: DEFAULT_HELPER_CAP,
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            limits: crate::serve::Limits::default(),
        }
    }
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/health", get(routes::agents::health))
        .route("/policy", get(routes::agents::policy))
        .route("/actions", post(routes::agents::propose))
        .route("/actions/{id}", get(routes::agents::action_status))
        .route("/evidence", post(routes::agents::evidence))
        .route("/operator/whoami", get(routes::operator::whoami))
        .route("/operator/approvals", get(routes::operator::approvals))
        .route("/operator/actions/{id}", get(routes::operator::action_detail))
        .route("/operator/decisions", post(routes::operator::decide))
        .route("/operator/actions/{id}/extend", post(routes::operator::extend))
        .route("/operator/feed", get(routes::feed::feed))
        .route("/operator/traces", get(routes::operator::traces))
        .route("/operator/traces/{id}", get(routes::operator::trace_bundle))
        .route("/operator/operators", get(routes::operator::operators))
        .route("/operator/operators/{id}/groups", get(routes::operator::group_history))
        .route("/operator/groups", post(routes::operator::set_groups))
        .route("/operator/principals", get(routes::principals::list).post(routes::principals::create))
        .route("/operator/principals/{id}/history", get(routes::principals::history))
        .route("/operator/grants", post(routes::principals::grant))
        .route("/operator/helpers", get(routes::helpers::list))
        .route("/operator/helpers/{id}/stop", post(routes::helpers::stop))
        .route("/helpers", post(routes::helpers::spawn))
        .route("/helpers/{id}/heartbeat", post(routes::helpers::heartbeat))
        .route("/helpers/{id}/retire", post(routes::helpers::retire))
        .route("/v1/approvals", post(routes::lodestar::announce))
        .route("/v1/approvals/{project_id}/{request_id}", get(routes::lodestar::fetch).delete(routes::lodestar::consume))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(crate::error::ErrorKind::MethodNotAllowed, "method_not_allowed", "method not allowed on this route")
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::map_response(json_errors))
        // A body trickled in byte by byte holds a handler only this long.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_guard))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// How long a client may take to send a request body (408 beyond).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest request target the hub reads (414 `uri_too_long` beyond).
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// The most headers the hub reads (431 `headers_too_large` beyond).
pub const MAX_HEADER_COUNT: usize = 256;
/// The most header bytes the hub reads (431 `headers_too_large` beyond).
/// Both sit well below hyper's own read buffer, so the hub, not hyper,
/// answers them, with a `{code, message}` body.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

fn oversized(req: &Request) -> Option<ApiError> {
    let uri_len = req.uri().path_and_query().map(|p| p.as_str().len()).unwrap_or(0);
    if uri_len > MAX_URI_BYTES {
        return Some(ApiError::new(crate::error::ErrorKind::UriTooLong, "uri_too_long", format!("the request target is longer than {MAX_URI_BYTES} bytes")));
    }
    let header_bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES || req.headers().len() > MAX_HEADER_COUNT {
        return Some(ApiError::new(
            crate::error::ErrorKind::HeadersTooLarge,
            "headers_too_large",
            format!("the request headers are more than {MAX_HEADER_COUNT} or larger than {MAX_HEADER_BYTES} bytes"),
        ));
    }
    None
}

/// The console's own webview origins (Tauri v2 on Linux/macOS and Windows).
pub const CONSOLE_ORIGINS: [&str; 2] = ["tauri://localhost", "http://tauri.localhost"];

/// Refuse what a web page could send, before any route sees it:
/// - every request with a body must say `Content-Type: application/json`
///   (415 `unsupported_media_type`), so no CORS "simple request" (text/plain,
///   form encodings) reaches a handler, in every mode;
/// - on a `--dev-open` hub, a request from a browser page that is not the
///   console (an `Origin` other than the console's, or `Sec-Fetch-Site`
///   saying another site) is refused 403 `cross_origin`. Requests without
///   those headers (agents, the CLI, the console's Rust core) pass.
pub async fn request_guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(refusal) = oversized(&req) {
        return refusal.into_response();
    }
    let headers = req.headers();
    if s.dev_open {
        let origin = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or(""));
        let console = origin.is_some_and(|o| CONSOLE_ORIGINS.contains(&o));
        if origin.is_some() && !console {
            return ApiError::forbidden("cross_origin", "this --dev-open hub only takes browser requests from the console").into_response();
        }
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !console && (site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site")) {
            return ApiError::forbidden("cross_origin", "this --dev-open hub only takes browser requests from the console").into_response();
        }
    }
    if has_body(&req) && !is_json(req.headers()) {
        return ApiError::new(
            crate::error::ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "request bodies must be sent as Content-Type: application/json",
        )
        .into_response();
    }
    next.run(req).await
}

/// A handler that panicked answers 500 `{code, message}` (and is logged)
/// instead of dropping the connection; the hub keeps serving.
fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err.downcast_ref::<String>().map(String::as_str).or_else(|| err.downcast_ref::<&str>().copied()).unwrap_or("a panic");
    ApiError::internal(format!("handler panicked: {what}")).into_response()
}

/// Errors the framework answers itself (a query string or path parameter
/// that does not parse) come as text; every error body the hub sends is
/// `{code, message}`, so they are rewritten here, keeping their status.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = is_json(resp.headers());
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let text = match axum::body::to_bytes(resp.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let code = match status.as_u16() {
        400 => "invalid_request",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "body_too_large",
        _ => "http_error",
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("request refused").to_owned() } else { text };
    (status, axum::Json(gatehouse_protocol::ErrorBody::new(code, message))).into_response()
}

fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    match headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING) || req.body().size_hint().exact() != Some(0),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Periodically resolve holds whose deadline passed and reap helpers. The
/// sweep is supervised: if it ever panics it is logged and started again a
/// second later; `/health` reports the time of the last completed sweep
/// ([`Store::since_sweep_ms`]). Aborting the returned task stops the sweep.
pub fn spawn_expiry(store: Store, heartbeat_timeout: Duration) -> tokio::task::JoinHandle<()> {
    /// Aborts the running sweep when the supervisor itself is aborted.
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    tokio::spawn(async move {
        loop {
            let run = tokio::spawn(sweep_forever(store.clone(), heartbeat_timeout));
            let _stop = AbortOnDrop(run.abort_handle());
            match run.await {
                Ok(()) => return,
                Err(e) if e.is_cancelled() => return,
                Err(e) => {
                    tracing::error!(error = %e, "the expiry sweep died; restarting it");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

async fn sweep_forever(store: Store, heartbeat_timeout: Duration) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let timeout = chrono::Duration::from_std(heartbeat_timeout).unwrap_or(chrono::Duration::seconds(30));
    loop {
        tick.tick().await;
        // Over PostgreSQL, one replica sweeps (the others stand by, and one
        // of them takes over when it dies).
        if !store.leads_sweep().await {
            store.swept(false);
            continue;
        }
        let t = gatehouse_protocol::time::now();
        let now = gatehouse_protocol::time::format(&t);
        let at = |d: chrono::Duration| t.checked_sub_signed(d).map(|x| gatehouse_protocol::time::format(&x)).unwrap_or_default();
        let (stale_before, dead_before) = (at(timeout / 2), at(timeout));
        let result = store
            .write(move |tx| {
                crate::store::actions::expire_due(tx, &now)?;
                crate::store::actions::escalate_due(tx, &now)?;
                crate::store::helpers::reap(tx, &now, &stale_before, &dead_before)
            })
            .await;
        match result {
            Ok(()) => store.swept(true),
            Err(e) => tracing::warn!(error = ?e, "expiry sweep failed"),
        }
    }
}

/// A running hub: its bound address and a handle to stop it.
pub struct RunningHub {
    pub addr: SocketAddr,
    pub shutdown: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Bind and serve in the background (the console embeds the hub this way).
pub async fn start(config: HubConfig) -> anyhow::Result<RunningHub> {
    // Refuse before anything is created: a refused start leaves no database.
    if config.dev_open && !config.listen.ip().is_loopback() {
        anyhow::bail!("--dev-open is only allowed on a loopback address, not {}", config.listen);
    }
    if config.heartbeat_timeout.is_zero() || config.heartbeat_timeout > MAX_HEARTBEAT_TIMEOUT {
        anyhow::bail!("--heartbeat-timeout must be between 1 ms and {}", humantime::format_duration(MAX_HEARTBEAT_TIMEOUT));
    }
    for (flag, d) in [("--header-timeout", config.limits.header_read_timeout), ("--write-stall-timeout", config.limits.write_stall_timeout)] {
        if d.is_zero() || d > Duration::from_secs(3600) {
            anyhow::bail!("{flag} must be between 1 ms and 1h");
        }
    }
    // Bind first: a start refused for a taken port leaves no database.
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let store = Store::open_at(&config.db).await?;
    let state = AppState {
        store: store.clone(),
        policy: Arc::new(config.policy),
        lodestar_token: config.lodestar_token.filter(|t| !t.is_empty()).map(Arc::from),
        dev_open: config.dev_open,
        helper_cap: config.helper_cap,
        capacity: Capacity::default(),
    };
    let addr = listener.local_addr()?;
    let limits = config.limits.within_fds(crate::serve::raise_fd_limit());
    tracing::info!(max_connections = limits.max_connections, max_per_ip = limits.max_per_ip, "connection limits");
    let app = router(state, config.max_body_bytes);
    let heartbeat_timeout = config.heartbeat_timeout;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let expiry = spawn_expiry(store, heartbeat_timeout);
        let result = crate::serve::serve(listener, app, limits, async {
            let _ = rx.await;
        })
        .await;
        expiry.abort();
        result.map_err(Into::into)
    });
    Ok(RunningHub { addr, shutdown: tx, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the catch-panic layer answers instead of dropping the connection.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_json() {
        let resp = panicked(Box::new("boom"));
        assert_eq!(resp.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let e: gatehouse_protocol::ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(e.code, "internal");
    }

    #[tokio::test]
    async fn an_absurd_heartbeat_timeout_refuses_to_start_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hub.db");
        let config = HubConfig {
            heartbeat_timeout: humantime::parse_duration("300000years").unwrap(),
            ..HubConfig::new("127.0.0.1:0".parse().unwrap(), db.clone(), Policy::default_embedded())
        };
        let err = start(config).await.err().expect("refused").to_string();
        assert!(err.starts_with("--heartbeat-timeout must be between"), "{err}");
        assert!(!db.exists());
    }
}
