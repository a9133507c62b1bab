//! HTTP client for one hub, as one operator. Reads are signed per request
//! (see `gatehouse_protocol::request_auth`); decisions and deadline
//! extensions carry their own signed envelope.

use crate::error::OpError;
use gatehouse_protocol::grant::SignedGrant;
use gatehouse_protocol::request_auth::{self, HEADER_OPERATOR, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use gatehouse_protocol::time::Timestamp;
use gatehouse_protocol::wire::{ApprovalItem, ApprovalList, DecisionOutcome, GrantRecord, NewPrincipal, OperatorInfo, PrincipalCreated, PrincipalView};
use gatehouse_protocol::{ErrorBody, SignedDecision, SigningKey};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct HubClient {
    base: String,
    operator: String,
    key: Arc<SigningKey>,
    http: reqwest::Client,
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl HubClient {
    pub fn new(base: &str, operator: &str, key: Arc<SigningKey>) -> Result<Self, OpError> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().map_err(|e| OpError::Protocol(e.to_string()))?;
        Ok(Self { base: crate::config::normalize_hub(base)?, operator: operator.to_owned(), key, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn operator(&self) -> &str {
        &self.operator
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    fn unreachable(&self, e: reqwest::Error) -> OpError {
        OpError::Unreachable { url: self.base.clone(), detail: e.to_string() }
    }

    /// A signed GET request builder for `path_and_query` (which must start with `/`).
    pub fn signed_get(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        // The hub verifies the path as it receives it, which includes any
        // prefix of the base URL.
        let url = format!("{}{}", self.base, path_and_query);
        let full_path = reqwest::Url::parse(&url)
            .map(|u| match u.query() {
                Some(q) => format!("{}?{}", u.path(), q),
                None => u.path().to_owned(),
            })
            .unwrap_or_else(|_| path_and_query.to_owned());
        let sig = request_auth::sign(&self.key, &self.operator, "GET", &full_path, b"");
        self.http
            .get(url)
            .header(HEADER_OPERATOR, request_auth::id_header(&sig.operator))
            .header(HEADER_TIMESTAMP, sig.timestamp_ms.to_string())
            .header(HEADER_SIGNATURE, sig.signature)
    }

    /// Read an answer and classify it ([`classify`]).
    async fn answer<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Answer<T> {
        let status = resp.status().as_u16();
        let header = |name: reqwest::header::HeaderName| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (content_type, retry_after) = (header(reqwest::header::CONTENT_TYPE), header(reqwest::header::RETRY_AFTER));
        match resp.bytes().await {
            Ok(bytes) => classify(status, content_type.as_deref(), retry_after.as_deref(), &bytes, gatehouse_protocol::time::now()),
            Err(e) => Answer::Transient { error: self.unreachable(e), retry_after: None },
        }
    }

    async fn parse<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, OpError> {
        self.answer(resp).await.into_result()
    }

    async fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, OpError> {
        let resp = self.signed_get(path_and_query).timeout(REQUEST_TIMEOUT).send().await.map_err(|e| self.unreachable(e))?;
        self.parse(resp).await
    }

    pub async fn whoami(&self) -> Result<OperatorInfo, OpError> {
        self.get_json("/operator/whoami").await
    }

    /// One page of the queue: holds in `status` (`pending`, a decided state
    /// or `all`), in the hub's `sort` order (`age`, `deadline`, `agent`),
    /// from `cursor` (a previous page's `nextCursor`) on.
    pub async fn approvals_page(&self, status: &str, sort: &str, limit: u32, cursor: Option<&str>) -> Result<ApprovalList, OpError> {
        let mut path = format!("/operator/approvals?status={}&sort={}&limit={limit}", urlencode(status), urlencode(sort));
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={}", urlencode(c)));
        }
        self.get_json(&path).await
    }

    /// The action with its hold and decision, plus its event trace.
    pub async fn action(&self, action_id: &str) -> Result<(ApprovalItem, serde_json::Value), OpError> {
        let path = format!("/operator/actions/{}", urlencode(action_id));
        let v: serde_json::Value = self.get_json(&path).await?;
        let item = serde_json::from_value(v["item"].clone()).map_err(|e| OpError::Protocol(e.to_string()))?;
        Ok((item, v["events"].clone()))
    }

    /// A POST whose body is covered by the operator's request signature.
    async fn signed_post<T: DeserializeOwned>(&self, path: &str, body: &impl serde::Serialize) -> Result<T, OpError> {
        let bytes = serde_json::to_vec(body).expect("body serialises");
        let url = format!("{}{}", self.base, path);
        let full_path = reqwest::Url::parse(&url).map(|u| u.path().to_owned()).unwrap_or_else(|_| path.to_owned());
        let sig = request_auth::sign(&self.key, &self.operator, "POST", &full_path, &bytes);
        let resp = self
            .http
            .post(url)
            .header(HEADER_OPERATOR, request_auth::id_header(&sig.operator))
            .header(HEADER_TIMESTAMP, sig.timestamp_ms.to_string())
            .header(HEADER_SIGNATURE, sig.signature)
            .header("content-type", "application/json")
            .body(bytes)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.parse(resp).await
    }

    /// TRACE's `GET /policy` (public).
    pub async fn policy(&self) -> Result<serde_json::Value, OpError> {
        let resp = self.http.get(format!("{}/policy", self.base)).timeout(REQUEST_TIMEOUT).send().await.map_err(|e| self.unreachable(e))?;
        self.parse(resp).await
    }

    pub async fn principals(&self) -> Result<Vec<PrincipalView>, OpError> {
        self.get_json("/operator/principals").await
    }

    pub async fn add_principal(&self, p: &NewPrincipal) -> Result<PrincipalCreated, OpError> {
        self.signed_post("/operator/principals", p).await
    }

    pub async fn principal_history(&self, id: &str) -> Result<Vec<GrantRecord>, OpError> {
        self.get_json(&format!("/operator/principals/{}/history", urlencode(id))).await
    }

    /// POST a body that carries its own signature (a decision, a grant).
    async fn post_envelope<T: DeserializeOwned>(&self, path: &str, body: &impl serde::Serialize) -> Result<T, OpError> {
        let resp = self.http.post(format!("{}{path}", self.base)).json(body).timeout(REQUEST_TIMEOUT).send().await.map_err(|e| self.unreachable(e))?;
        self.parse(resp).await
    }

    /// An admin's signed change of an operator's groups.
    pub async fn post_group_change(&self, c: &gatehouse_protocol::quorum::SignedGroupChange) -> Result<OperatorInfo, OpError> {
        self.post_envelope("/operator/groups", c).await
    }

    /// An operator's group changes, oldest first.
    pub async fn group_history(&self, id: &str) -> Result<Vec<gatehouse_protocol::quorum::GroupChangeRecord>, OpError> {
        self.get_json(&format!("/operator/operators/{}/groups", urlencode(id))).await
    }

    pub async fn post_grant(&self, g: &SignedGrant) -> Result<PrincipalView, OpError> {
        self.post_envelope("/operator/grants", g).await
    }

    pub async fn helpers(&self) -> Result<Vec<gatehouse_protocol::wire::HelperView>, OpError> {
        self.get_json("/operator/helpers").await
    }

    /// Order a helper to stop (a signed request, `gatehouse helpers stop` and
    /// the console's Stop alike); it must comply within `grace_seconds`. The
    /// reason is required and kept with the order.
    pub async fn stop_helper(&self, id: &str, reason: &str, grace_seconds: i64) -> Result<gatehouse_protocol::wire::HelperView, OpError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(OpError::Invalid("a stop order needs a reason".into()));
        }
        self.signed_post(&format!("/operator/helpers/{}/stop", urlencode(id)), &serde_json::json!({"reason": reason, "graceSeconds": grace_seconds})).await
    }

    pub async fn operators(&self) -> Result<Vec<OperatorInfo>, OpError> {
        self.get_json("/operator/operators").await
    }

    pub async fn trace_bundle(&self, action_id: &str) -> Result<gatehouse_protocol::trace::TraceBundle, OpError> {
        self.get_json(&format!("/operator/traces/{}", urlencode(action_id))).await
    }

    /// One page of traces matching `q` (blank filters dropped; a page of 500
    /// from the start unless it says otherwise).
    pub async fn traces(&self, q: &gatehouse_protocol::wire::TraceQuery) -> Result<gatehouse_protocol::wire::TraceList, OpError> {
        let q = q.normalized();
        let mut parts = Vec::new();
        for (k, v) in
            [("agent", &q.agent), ("type", &q.action_type), ("status", &q.status), ("from", &q.from), ("to", &q.to), ("q", &q.q), ("cursor", &q.cursor)]
        {
            if let Some(v) = v {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        parts.push(format!("limit={}", q.limit.unwrap_or(500)));
        if let Some(offset) = q.offset.filter(|o| *o > 0) {
            parts.push(format!("offset={offset}"));
        }
        self.get_json(&format!("/operator/traces?{}", parts.join("&"))).await
    }

    /// Send a signed decision; the answer says whether to settle it or try
    /// again later (see [`classify`]).
    pub async fn post_decision(&self, signed: &SignedDecision) -> Answer<DecisionOutcome> {
        let sent = self.http.post(format!("{}/operator/decisions", self.base)).json(signed).timeout(REQUEST_TIMEOUT).send().await;
        match sent {
            Ok(resp) => self.answer(resp).await,
            Err(e) => Answer::Transient { error: self.unreachable(e), retry_after: None },
        }
    }

    /// Send a signed deadline extension for `action_id` (once: an extension
    /// does not wait in the outbox; a failure is the operator's to retry).
    pub async fn post_extension(
        &self,
        action_id: &str,
        signed: &gatehouse_protocol::SignedExtension,
    ) -> Result<gatehouse_protocol::extension::ExtensionOutcome, OpError> {
        self.post_envelope(&format!("/operator/actions/{}/extend", urlencode(action_id)), signed).await
    }

    /// Open the SSE feed after `after` (or from now). The caller reads the body stream.
    pub async fn open_feed(&self, after: Option<i64>) -> Result<reqwest::Response, OpError> {
        let path = match after {
            Some(n) => format!("/operator/feed?after={n}"),
            None => "/operator/feed".to_owned(),
        };
        let resp = self.signed_get(&path).header("accept", "text/event-stream").send().await.map_err(|e| self.unreachable(e))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.parse::<serde_json::Value>(resp).await.err().unwrap_or(OpError::Protocol("feed refused".into())))
        }
    }
}

/// The longest wait a `Retry-After` header can impose on the outbox.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// What one answer means, decided in this one place for every request; the
/// outbox acts on it (see [`crate::outbox`]).
///
/// | answer | meaning |
/// |---|---|
/// | 2xx with the expected JSON | [`Answer::Ok`] |
/// | 4xx other than 408, 425, 429, with the hub's JSON `{code, message}` | [`Answer::Refused`]: final |
/// | 408, 425, 429, any 5xx (even with a `{code}`) | [`Answer::Transient`] |
/// | any status whose body is not the hub's JSON (a proxy's HTML page, even with 200; an empty body; a `{code}`-less JSON) | [`Answer::Transient`] |
/// | no answer (connection refused, reset, timed out, body cut short) | [`Answer::Transient`] |
#[derive(Debug)]
pub enum Answer<T> {
    Ok(T),
    /// The hub itself refused, for good: its `{code}` is in the error.
    Refused(OpError),
    /// Try again later; not before `retry_after` if the answer said so
    /// (`Retry-After`, capped at [`MAX_RETRY_AFTER`]).
    Transient {
        error: OpError,
        retry_after: Option<Duration>,
    },
}

impl<T> Answer<T> {
    /// For requests made once: success, or why not.
    pub fn into_result(self) -> Result<T, OpError> {
        match self {
            Answer::Ok(v) => Ok(v),
            Answer::Refused(e) | Answer::Transient { error: e, .. } => Err(e),
        }
    }
}

/// Statuses worth retrying even when the hub itself sent them with a `{code}`.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || status >= 500
}

/// Classify one answer (see [`Answer`]). Errors keep their usual shape: the
/// hub's `{code}` as [`OpError::Hub`], another error body as `http_<status>`,
/// a 2xx that is not the expected JSON as [`OpError::Protocol`].
pub fn classify<T: DeserializeOwned>(status: u16, content_type: Option<&str>, retry_after: Option<&str>, body: &[u8], now: Timestamp) -> Answer<T> {
    let wait = retry_after.and_then(|v| parse_retry_after(v, now));
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<T>(body) {
            Ok(v) => Answer::Ok(v),
            Err(e) => Answer::Transient { error: OpError::Protocol(format!("HTTP {status} {}: {e}", not_the_hubs(content_type, body))), retry_after: wait },
        };
    }
    let hubs = serde_json::from_slice::<ErrorBody>(body).ok().filter(|b| !b.code.trim().is_empty());
    match hubs {
        Some(body) if (400..500).contains(&status) && !is_retryable_status(status) => Answer::Refused(OpError::Hub { status, body }),
        Some(body) => Answer::Transient { error: OpError::Hub { status, body }, retry_after: wait },
        None => Answer::Transient {
            error: OpError::Hub { status, body: ErrorBody::new(format!("http_{status}"), not_the_hubs(content_type, body)) },
            retry_after: wait,
        },
    }
}

/// Describe a body that is not the hub's JSON: its type and its start.
fn not_the_hubs(content_type: Option<&str>, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).split_whitespace().collect::<Vec<_>>().join(" ");
    let start: String = text.chars().take(120).collect();
    let more = if start.len() < text.len() { "…" } else { "" };
    format!("not the hub's JSON ({}, {} bytes): {start:?}{more}", content_type.unwrap_or("no content type"), body.len())
}

/// A `Retry-After` value (RFC 9110: delay seconds or an HTTP-date) as a wait
/// from `now`, at most [`MAX_RETRY_AFTER`]; a date in the past waits not at
/// all. `None` for a value that is neither.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a long time".
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).map(|t| t.with_timezone(&chrono::Utc)).ok().or_else(|| {
        // The two obsolete forms RFC 9110 still asks recipients to accept.
        ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"].iter().find_map(|f| chrono::NaiveDateTime::parse_from_str(v, f).ok()).map(|t| t.and_utc())
    })?;
    Some((at - now).to_std().unwrap_or_default().min(MAX_RETRY_AFTER))
}

/// Percent-encode one path segment.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_protocol::time;

    fn now() -> Timestamp {
        time::parse("2026-11-22T10:00:00.000Z").unwrap()
    }

    /// The kind of an answer, and its error's code.
    fn kind(status: u16, content_type: Option<&str>, retry_after: Option<&str>, body: &str) -> (&'static str, String, Option<Duration>) {
        match classify::<serde_json::Map<String, serde_json::Value>>(status, content_type, retry_after, body.as_bytes(), now()) {
            Answer::Ok(_) => ("ok", String::new(), None),
            Answer::Refused(e) => ("refused", e.code(), None),
            Answer::Transient { error, retry_after } => ("transient", error.code(), retry_after),
        }
    }

    const JSON: Option<&str> = Some("application/json");
    const HTML: Option<&str> = Some("text/html; charset=utf-8");

    #[test]
    fn only_the_hubs_own_final_refusal_settles() {
        let hubs = r#"{"code":"already_decided","message":"someone decided first"}"#;
        // The hub's {code} on a 4xx: final.
        for status in [400, 401, 403, 404, 409, 410, 413, 422] {
            assert_eq!(kind(status, JSON, None, hubs).0, "refused", "{status}");
        }
        assert_eq!(kind(409, JSON, None, hubs).1, "already_decided");
        // 408, 425, 429 and any 5xx: try again, even with the hub's {code}.
        for status in [408, 425, 429, 500, 501, 502, 503, 504, 507, 599] {
            assert_eq!(kind(status, JSON, None, hubs), ("transient", "already_decided".into(), None), "{status}");
        }
        // Not the hub's answer: a proxy's page, an empty body, JSON without a code.
        let page = "<html><body><h1>429 Too Many Requests</h1></body></html>";
        for (status, ct, body) in [
            (429, HTML, page),
            (408, HTML, "<html>Request Timeout</html>"),
            (403, HTML, "<html>Forbidden by proxy</html>"),
            (404, None, ""),
            (400, JSON, r#"{"error":"bad request"}"#),
            (400, JSON, r#"{"code":"","message":"blank"}"#),
            (400, JSON, r#"{"code":"x"}"#),
            (502, HTML, "<html>Bad Gateway</html>"),
            (503, None, ""),
            (302, HTML, "<a href=/login>moved</a>"),
        ] {
            assert_eq!(kind(status, ct, None, body), ("transient", format!("http_{status}"), None), "{status} {body}");
        }
        // A 2xx that is not the hub's JSON (a captive portal, a proxy's error page).
        assert_eq!(kind(200, HTML, None, page), ("transient", "protocol".into(), None));
        assert_eq!(kind(200, JSON, None, "[1, 2]"), ("transient", "protocol".into(), None));
        assert_eq!(kind(204, None, None, ""), ("transient", "protocol".into(), None));
        assert_eq!(kind(200, JSON, None, r#"{"outcome":"applied"}"#).0, "ok");
    }

    #[test]
    fn a_2xx_must_be_the_expected_shape() {
        let wrong = classify::<DecisionOutcome>(200, JSON, None, br#"{"code":"ok","message":"proxy says hi"}"#, now());
        assert!(matches!(wrong, Answer::Transient { error: OpError::Protocol(_), .. }), "{wrong:?}");
    }

    #[test]
    fn transient_answers_carry_retry_after() {
        let r = |status, v: &str| kind(status, HTML, Some(v), "<html>busy</html>").2;
        assert_eq!(r(429, "1"), Some(Duration::from_secs(1)));
        assert_eq!(r(503, " 120 "), Some(Duration::from_secs(120)));
        assert_eq!(r(429, "Sun, 22 Nov 2026 10:00:30 GMT"), Some(Duration::from_secs(30)));
        assert_eq!(r(429, "soon"), None);
        // A refusal has nothing to retry.
        assert_eq!(kind(409, JSON, Some("5"), r#"{"code":"already_decided","message":"m"}"#).2, None);
        assert_eq!(kind(429, JSON, Some("5"), r#"{"code":"rate_limited","message":"m"}"#).2, Some(Duration::from_secs(5)));
    }

    #[test]
    fn retry_after_seconds_and_http_dates_capped_at_ten_minutes() {
        let p = |v: &str| parse_retry_after(v, now());
        assert_eq!(p("0"), Some(Duration::ZERO));
        assert_eq!(p("1"), Some(Duration::from_secs(1)));
        assert_eq!(p("599"), Some(Duration::from_secs(599)));
        assert_eq!(p("3600"), Some(MAX_RETRY_AFTER));
        assert_eq!(p("99999999999999999999999"), Some(MAX_RETRY_AFTER));
        // IMF-fixdate, and the two obsolete forms (RFC 9110 §5.6.7).
        assert_eq!(p("Sun, 22 Nov 2026 10:01:00 GMT"), Some(Duration::from_secs(60)));
        assert_eq!(p("Sunday, 22-Nov-26 10:01:00 GMT"), Some(Duration::from_secs(60)));
        assert_eq!(p("Sun Nov 22 10:01:00 2026"), Some(Duration::from_secs(60)));
        assert_eq!(p("Sun Nov  1 10:01:00 2026"), Some(Duration::ZERO), "in the past: no wait");
        assert_eq!(p("Mon, 23 Nov 2026 10:00:00 GMT"), Some(MAX_RETRY_AFTER));
        assert_eq!(p("Sun, 22 Nov 2026 09:00:00 GMT"), Some(Duration::ZERO));
        for bad in ["", " ", "-1", "1.5", "soon", "10 s", "2026-11-22T10:01:00Z"] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_proxys_page_is_described_not_dumped() {
        let page = format!("<html>\n  <body>{}</body>\n</html>", "x".repeat(5000));
        let Answer::Transient { error, .. } = classify::<DecisionOutcome>(502, HTML, None, page.as_bytes(), now()) else { panic!() };
        let msg = error.body().message;
        assert!(msg.contains("text/html") && msg.contains("5030 bytes") && msg.contains("<html> <body>xxx"), "{msg}");
        assert!(msg.chars().count() < 250, "{msg}");
    }
}
