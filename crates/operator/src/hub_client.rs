//! HTTP client for one hub, as one operator. Reads are signed per request
//! (see `gatehouse_protocol::request_auth`); decisions carry their own
//! signed envelope.

use crate::error::OpError;
use gatehouse_protocol::grant::SignedGrant;
use gatehouse_protocol::request_auth::{self, HEADER_OPERATOR, HEADER_SIGNATURE, HEADER_TIMESTAMP};
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

    async fn parse<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, OpError> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| OpError::Protocol(e.to_string()));
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes)
            .unwrap_or_else(|_| ErrorBody::new(format!("http_{}", status.as_u16()), String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>()));
        Err(OpError::Hub { status: status.as_u16(), body })
    }

    async fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, OpError> {
        let resp = self.signed_get(path_and_query).timeout(REQUEST_TIMEOUT).send().await.map_err(|e| self.unreachable(e))?;
        self.parse(resp).await
    }

    pub async fn whoami(&self) -> Result<OperatorInfo, OpError> {
        self.get_json("/operator/whoami").await
    }

    pub async fn approvals(&self, all: bool) -> Result<ApprovalList, OpError> {
        self.get_json(if all { "/operator/approvals?status=all" } else { "/operator/approvals?status=pending" }).await
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

    pub async fn post_grant(&self, g: &SignedGrant) -> Result<PrincipalView, OpError> {
        self.post_envelope("/operator/grants", g).await
    }

    pub async fn helpers(&self) -> Result<Vec<gatehouse_protocol::wire::HelperView>, OpError> {
        self.get_json("/operator/helpers").await
    }

    /// Order a helper to stop (a signed request); it must comply within `grace_seconds`.
    pub async fn stop_helper(&self, id: &str, reason: &str, grace_seconds: i64) -> Result<gatehouse_protocol::wire::HelperView, OpError> {
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
        for (k, v) in [("agent", &q.agent), ("type", &q.action_type), ("status", &q.status), ("from", &q.from), ("to", &q.to), ("q", &q.q)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        parts.push(format!("limit={}", q.limit.unwrap_or(500)));
        parts.push(format!("offset={}", q.offset.unwrap_or(0)));
        self.get_json(&format!("/operator/traces?{}", parts.join("&"))).await
    }

    pub async fn post_decision(&self, signed: &SignedDecision) -> Result<DecisionOutcome, OpError> {
        self.post_envelope("/operator/decisions", signed).await
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
