//! Managing a mesa server's principals from Gatehouse (docs/interop.md §3): list
//! principals and set their capabilities with the mesa admin token. The
//! token lives in the OS keyring (service `gatehouse-mesa`, account = the
//! mesa URL), never in a file, and is kept only once mesa has accepted it.
//!
//! mesa is a FastAPI app, and its errors come in FastAPI's three `detail`
//! shapes ([`read_error`] reads all of them); every error here says it is
//! mesa's (or about reaching mesa), never the hub's.

use gatehouse_protocol::ErrorBody;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

pub const KEYRING_SERVICE: &str = "gatehouse-mesa";

/// The principal the token check addresses: the nil UUID's hex. mesa's ids
/// are `uuid4().hex`, which always has version nibble 4, so no principal
/// ever has this id and the check changes nothing.
const PROBE_ID: &str = "00000000000000000000000000000000";
/// mesa's text is passed on, but not without limit: characters per message
/// and validation errors per answer.
const TEXT_MAX: usize = 1000;
const ERRORS_MAX: usize = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MesaPrincipal {
    pub id: String,
    pub org: String,
    pub public_key: String,
    pub capabilities: Vec<String>,
    pub created_at: String,
}

/// An error from mesa, or about reaching it. `status` is mesa's HTTP status
/// (0 when mesa gave none); `code` is mesa's own code when it sent one
/// (`admin_forbidden`), else one of ours, each starting `mesa_`; `message`
/// names mesa and carries mesa's own text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[error("{message}")]
pub struct MesaError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl MesaError {
    fn local(code: &str, message: String) -> Self {
        Self { status: 0, code: code.to_owned(), message }
    }

    /// As it crosses IPC.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code.clone(), self.message.clone())
    }
}

/// Our code for an answer that carries none of mesa's own.
fn status_code(status: u16) -> String {
    match status {
        401 => "mesa_unauthorized".into(),
        403 => "mesa_forbidden".into(),
        404 => "mesa_not_found".into(),
        409 => "mesa_conflict".into(),
        422 => "mesa_invalid".into(),
        500..=599 => "mesa_server_error".into(),
        s => format!("mesa_http_{s}"),
    }
}

/// mesa's text made safe to show on one line: control characters become
/// spaces, and it is cut at [`TEXT_MAX`] characters.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(TEXT_MAX).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.chars().count() > TEXT_MAX {
        out.push('…');
    }
    out.trim().to_owned()
}

/// A code mesa sent is passed on only if it looks like one.
fn plausible_code(c: &str) -> bool {
    !c.is_empty() && c.len() <= 64 && c.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
}

/// Where a validation error points, without FastAPI's leading `body`
/// (`["body", "capabilities", 0]` → `capabilities.0`).
fn location(loc: &Value) -> String {
    let parts: Vec<String> = loc
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(i, p)| !(*i == 0 && p.as_str() == Some("body")))
        .map(|(_, p)| match p {
            Value::String(s) => clip(s),
            other => other.to_string(),
        })
        .collect();
    parts.join(".")
}

/// The `detail` string of an error answer (FastAPI's string shape), if that is its shape.
fn detail_string(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(body).ok()?.get("detail")? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// mesa's error answer, read whichever of FastAPI's three `detail` shapes it
/// has (docs/interop.md §3):
/// - object `{"detail": {"code", "message"}}`: mesa's own checks; its code is kept;
/// - list `{"detail": [{"type", "loc", "msg", ...}]}`: request validation
///   (an unknown capability, a bad public key); each `msg` is shown with where it points;
/// - string `{"detail": "principal not found"}`: shown as it is.
///
/// Anything else (a proxy's HTML page, an empty body) is shown as text, cut short.
pub fn read_error(status: u16, body: &[u8]) -> MesaError {
    let refused = |code: String, text: String| MesaError { status, code, message: format!("mesa refused ({status}): {text}") };
    let v: Option<Value> = serde_json::from_slice(body).ok();
    match v.as_ref().and_then(|v| v.get("detail")) {
        Some(Value::Object(o)) => {
            let code = o.get("code").and_then(Value::as_str).filter(|c| plausible_code(c)).map(str::to_owned).unwrap_or_else(|| status_code(status));
            let text = match o.get("message").and_then(Value::as_str) {
                Some(m) => clip(m),
                None => clip(&Value::Object(o.clone()).to_string()),
            };
            refused(code, text)
        }
        Some(Value::Array(errors)) => {
            let mut parts: Vec<String> = errors
                .iter()
                .take(ERRORS_MAX)
                .map(|e| {
                    let msg = match e.get("msg").and_then(Value::as_str) {
                        Some(m) => clip(m),
                        None => clip(&e.to_string()),
                    };
                    match location(&e["loc"]) {
                        loc if loc.is_empty() => msg,
                        loc => format!("{loc}: {msg}"),
                    }
                })
                .collect();
            if errors.len() > ERRORS_MAX {
                parts.push(format!("and {} more", errors.len() - ERRORS_MAX));
            }
            if parts.is_empty() {
                parts.push("the request was invalid".into());
            }
            refused("mesa_invalid".into(), parts.join("; "))
        }
        Some(Value::String(s)) => refused(status_code(status), clip(s)),
        _ => {
            let text = clip(&String::from_utf8_lossy(&body[..body.len().min(4 * TEXT_MAX)]));
            let text = if text.is_empty() { "(no body)".to_owned() } else { text };
            MesaError { status, code: status_code(status), message: format!("mesa answered HTTP {status}: {text}") }
        }
    }
}

/// What the token check's answer means: a good token reaches the principal
/// lookup (404 `principal not found`, or 200 were the principal to exist);
/// anything else is mesa's refusal, or not mesa at all.
fn token_check(status: u16, body: &[u8]) -> Result<(), MesaError> {
    if (200..300).contains(&status) || (status == 404 && detail_string(body).as_deref() == Some("principal not found")) {
        return Ok(());
    }
    let mut e = read_error(status, body);
    if status == 404 {
        // FastAPI's own 404 (`Not Found`): no such route, so no mesa admin API here.
        e.message = format!("{} (is this mesa? PUT /principals/{{id}}/capabilities is not there)", e.message);
    }
    Err(e)
}

pub fn save_token(url: &str, token: &str) -> Result<(), MesaError> {
    let keyring = |e: keyring::Error| MesaError::local("keyring", format!("keyring error (mesa admin token for {url}): {e}"));
    let entry = keyring::Entry::new(KEYRING_SERVICE, url).map_err(keyring)?;
    entry.set_password(token).map_err(keyring)
}

pub fn load_token(url: &str) -> Result<zeroize::Zeroizing<String>, MesaError> {
    let keyring = |e: keyring::Error| MesaError::local("keyring", format!("keyring error (mesa admin token for {url}): {e}"));
    let entry = keyring::Entry::new(KEYRING_SERVICE, url).map_err(keyring)?;
    match entry.get_password() {
        Ok(t) => Ok(zeroize::Zeroizing::new(t)),
        Err(keyring::Error::NoEntry) => {
            Err(MesaError::local("mesa_no_token", format!("no mesa admin token for {url} in the keyring: connect to mesa again with its admin token")))
        }
        Err(e) => Err(keyring(e)),
    }
}

/// Connect to the mesa at `url`: check `token` with mesa first
/// ([`MesaClient::check_token`]) and only once mesa has accepted it keep it
/// in the keyring and the URL in the settings in `dir`; then list mesa's
/// principals. On any failure nothing is saved, so the token and URL saved
/// before stay as they were.
pub async fn connect(dir: &Path, url: &str, token: &str) -> Result<Vec<MesaPrincipal>, MesaError> {
    connect_with(dir, url, token, save_token).await
}

async fn connect_with(
    dir: &Path,
    url: &str,
    token: &str,
    save: impl FnOnce(&str, &str) -> Result<(), MesaError> + Send + 'static,
) -> Result<Vec<MesaPrincipal>, MesaError> {
    let client = MesaClient::new(url)?;
    let token = zeroize::Zeroizing::new(token.trim().to_owned());
    if token.is_empty() {
        return Err(MesaError::local("invalid", "the mesa admin token is required".into()));
    }
    client.check_token(&token).await?;
    let u = client.url().to_owned();
    tokio::task::spawn_blocking(move || save(&u, &token)).await.map_err(|e| MesaError::local("internal", e.to_string()))??;
    let s = crate::settings::Settings { mesa_url: Some(client.url().to_owned()), ..crate::settings::load(dir) };
    crate::settings::save(dir, &s).map_err(|e| MesaError::local(&e.code(), e.to_string()))?;
    client.principals().await
}

pub struct MesaClient {
    url: String,
    http: reqwest::Client,
}

impl MesaClient {
    pub fn new(url: &str) -> Result<Self, MesaError> {
        let u = url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(u).map_err(|e| MesaError::local("invalid", format!("mesa URL {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(MesaError::local("invalid", format!("mesa URL {url:?} must be http:// or https:// with a host")));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| MesaError::local("internal", e.to_string()))?;
        Ok(Self { url: u.to_owned(), http })
    }

    /// The mesa this console is connected to (its URL in the settings in `dir`).
    pub fn from_settings(dir: &Path) -> Result<Self, MesaError> {
        let url = crate::settings::load(dir)
            .mesa_url
            .ok_or_else(|| MesaError::local("mesa_not_connected", "connect a mesa server first (URL and admin token)".into()))?;
        Self::new(&url)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn unreachable(&self, e: reqwest::Error) -> MesaError {
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail.push_str(&format!(": {s}"));
            source = s.source();
        }
        MesaError::local("mesa_unreachable", format!("mesa at {} is unreachable: {detail}", self.url))
    }

    async fn answer(&self, resp: reqwest::Response) -> Result<(u16, Vec<u8>), MesaError> {
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        Ok((status, bytes.to_vec()))
    }

    async fn parse<T: serde::de::DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, MesaError> {
        let (status, bytes) = self.answer(resp).await?;
        if !(200..300).contains(&status) {
            return Err(read_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| MesaError {
            status,
            code: "mesa_protocol".into(),
            message: format!("mesa at {} answered {status} with an unexpected body: {e}", self.url),
        })
    }

    pub async fn principals(&self) -> Result<Vec<MesaPrincipal>, MesaError> {
        let resp = self.http.get(format!("{}/principals", self.url)).send().await.map_err(|e| self.unreachable(e))?;
        self.parse(resp).await
    }

    async fn put_capabilities(&self, token: &str, id: &str, capabilities: &[String]) -> Result<reqwest::Response, MesaError> {
        self.http
            .put(format!("{}/principals/{}/capabilities", self.url, crate::hub_client::urlencode(id)))
            .header("X-Admin-Token", token)
            .json(&serde_json::json!({"capabilities": capabilities}))
            .send()
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// Does mesa accept `token` as its admin token? Listing proves nothing
    /// (it needs no token), so this asks with a write that changes nothing:
    /// no capabilities for [`PROBE_ID`], a principal that cannot exist. mesa
    /// checks the token before it looks the principal up: a good token gets
    /// 404 `principal not found`, a bad one 403 `admin_forbidden`
    /// (`admin_disabled` when mesa has no admin token configured).
    pub async fn check_token(&self, token: &str) -> Result<(), MesaError> {
        let resp = self.put_capabilities(token, PROBE_ID, &[]).await?;
        let (status, bytes) = self.answer(resp).await?;
        token_check(status, &bytes)
    }

    /// `PUT /principals/{id}/capabilities` with the admin token from the keyring.
    pub async fn set_capabilities(&self, id: &str, capabilities: &[String]) -> Result<MesaPrincipal, MesaError> {
        let url = self.url.clone();
        let token = tokio::task::spawn_blocking(move || load_token(&url)).await.map_err(|e| MesaError::local("internal", e.to_string()))??;
        let resp = self.put_capabilities(&token, id, capabilities).await?;
        self.parse(resp).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // FastAPI's answers, byte for byte as mesa sends them (compact JSON).
    const UNKNOWN_CAPABILITY: &str = r#"{"detail":[{"type":"value_error","loc":["body","capabilities"],"msg":"Value error, unknown commitment type(s): ['teleport']. known types: ['amendment', 'approval', 'counter', 'dpa_reference', 'license_terms', 'offer', 'opt_out_delta', 'participant_joined', 'scope_clause', 'signoff', 'turn', 'usage_restriction']","input":["offer","teleport"],"ctx":{"error":{}}}]}"#;
    const ADMIN_FORBIDDEN: &str = r#"{"detail":{"code":"admin_forbidden","message":"invalid or missing admin token"}}"#;
    const NOT_FOUND: &str = r#"{"detail":"principal not found"}"#;

    #[test]
    fn the_object_shape_keeps_mesas_code_and_message() {
        let e = read_error(403, ADMIN_FORBIDDEN.as_bytes());
        assert_eq!(e, MesaError { status: 403, code: "admin_forbidden".into(), message: "mesa refused (403): invalid or missing admin token".into() });
        let e = read_error(403, br#"{"detail":{"code":"admin_disabled","message":"no admin token configured"}}"#);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("admin_disabled", "mesa refused (403): no admin token configured"));
        // A code that is not one is not passed on as one.
        let e = read_error(403, br#"{"detail":{"code":"<b>x</b>","message":"m"}}"#);
        assert_eq!(e.code, "mesa_forbidden");
    }

    #[test]
    fn the_list_shape_shows_each_msg_with_where_it_points() {
        let e = read_error(422, UNKNOWN_CAPABILITY.as_bytes());
        assert_eq!(e.status, 422);
        assert_eq!(e.code, "mesa_invalid");
        assert!(
            e.message.starts_with("mesa refused (422): capabilities: Value error, unknown commitment type(s): ['teleport']. known types: ['amendment', "),
            "{}",
            e.message
        );
        // Several errors, one in a list item, and a whole-body one.
        let body = r#"{"detail":[
            {"type":"string_too_short","loc":["body","public_key"],"msg":"String should have at least 64 characters","input":"ab","ctx":{"min_length":64}},
            {"type":"string_type","loc":["body","capabilities",1],"msg":"Input should be a valid string","input":7},
            {"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#;
        assert_eq!(
            read_error(422, body.as_bytes()).message,
            "mesa refused (422): public_key: String should have at least 64 characters; capabilities.1: Input should be a valid string; Field required"
        );
        let many: Vec<Value> = (0..8).map(|i| serde_json::json!({"loc": ["body", "x", i], "msg": "bad"})).collect();
        let m = read_error(422, serde_json::json!({ "detail": many }).to_string().as_bytes()).message;
        assert!(m.ends_with("x.4: bad; and 3 more"), "{m}");
    }

    #[test]
    fn the_string_shape_is_shown_as_it_is() {
        let e = read_error(404, NOT_FOUND.as_bytes());
        assert_eq!(e, MesaError { status: 404, code: "mesa_not_found".into(), message: "mesa refused (404): principal not found".into() });
        let e = read_error(409, br#"{"detail":"public_key already registered"}"#);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("mesa_conflict", "mesa refused (409): public_key already registered"));
        assert_eq!(read_error(405, br#"{"detail":"Method Not Allowed"}"#).code, "mesa_http_405");
    }

    #[test]
    fn other_answers_are_shown_as_text_cut_short_and_never_name_the_hub() {
        let e = read_error(502, b"<html>Bad\ngateway</html>");
        assert_eq!(e, MesaError { status: 502, code: "mesa_server_error".into(), message: "mesa answered HTTP 502: <html>Bad gateway</html>".into() });
        assert_eq!(read_error(500, b"").message, "mesa answered HTTP 500: (no body)");
        let long = format!(r#"{{"detail":"{}"}}"#, "x".repeat(5000));
        assert!(read_error(400, long.as_bytes()).message.chars().count() < TEXT_MAX + 40);
        for body in [UNKNOWN_CAPABILITY, ADMIN_FORBIDDEN, NOT_FOUND, "", "null", r#"{"detail":null}"#] {
            let m = read_error(400, body.as_bytes()).message;
            assert!(m.starts_with("mesa ") && !m.contains("hub"), "{m}");
        }
    }

    #[test]
    fn the_token_check_reads_404_principal_not_found_as_accepted() {
        assert_eq!(token_check(404, NOT_FOUND.as_bytes()), Ok(()));
        assert_eq!(token_check(403, ADMIN_FORBIDDEN.as_bytes()).unwrap_err().code, "admin_forbidden");
        // FastAPI's own 404: no such route, not mesa.
        let e = token_check(404, br#"{"detail":"Not Found"}"#).unwrap_err();
        assert!(e.message.contains("is this mesa?"), "{}", e.message);
        assert!(token_check(500, b"oops").is_err());
    }

    /// A one-route stand-in: answers every request with `status` and `body`,
    /// and records each request's head.
    async fn canned(status: u16, body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                // The whole request (head and body) is read before answering.
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break;
                        }
                    }
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                log.lock().unwrap().push(String::from_utf8_lossy(&req).lines().next().unwrap_or_default().to_owned());
                let resp =
                    format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = sock.write_all(resp.as_bytes()).await;
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn connect_saves_nothing_when_mesa_refuses_the_token() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let saved = Arc::new(Mutex::new(None::<String>));
        // Stands in for the keyring: remembers the token it was given.
        let saver = |saved: &Arc<Mutex<Option<String>>>| {
            let s = saved.clone();
            move |_: &str, t: &str| {
                *s.lock().unwrap() = Some(t.to_owned());
                Ok(())
            }
        };
        let (url, seen) = canned(403, ADMIN_FORBIDDEN).await;
        let e = connect_with(dir, &url, "wrong", saver(&saved)).await.unwrap_err();
        assert_eq!(e.code, "admin_forbidden");
        assert!(e.message.starts_with("mesa refused (403)"), "{}", e.message);
        assert_eq!(*saved.lock().unwrap(), None, "a refused token is never saved");
        assert_eq!(crate::settings::load(dir).mesa_url, None, "nor the URL");
        assert_eq!(seen.lock().unwrap().as_slice(), [format!("PUT /principals/{PROBE_ID}/capabilities HTTP/1.1")]);

        // Accepted (the probe's principal does not exist): saved, then listed.
        let (url, _) = canned(404, NOT_FOUND).await;
        let e = connect_with(dir, &url, " good ", saver(&saved)).await.unwrap_err();
        // (The stand-in answers the listing with the same 404.)
        assert_eq!(e.message, "mesa refused (404): principal not found");
        assert_eq!(saved.lock().unwrap().as_deref(), Some("good"));
        assert_eq!(crate::settings::load(dir).mesa_url.as_deref(), Some(url.as_str()));
    }

    #[tokio::test]
    async fn an_unreachable_mesa_is_named_as_mesa() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = MesaClient::new(&format!("http://127.0.0.1:{port}")).unwrap().principals().await.unwrap_err();
        assert_eq!(e.code, "mesa_unreachable");
        assert!(e.message.starts_with(&format!("mesa at http://127.0.0.1:{port} is unreachable")), "{}", e.message);
        assert_eq!(MesaClient::new("ftp://x").err().unwrap().code, "invalid");
    }
}
