//! Operator authentication for reads: the `x-gatehouse-*` headers carry a
//! signature by an enrolled operator's key over the method, path, time and
//! body hash (see `gatehouse_protocol::request_auth`).

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::operators;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use gatehouse_protocol::request_auth::{self, RequestAuthError, HEADER_OPERATOR, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use gatehouse_protocol::wire::OperatorInfo;
use gatehouse_protocol::PublicKey;
use sha2::{Digest, Sha256};

/// An authenticated operator. Only usable on body-less (GET) routes, whose
/// body hash is that of the empty string.
pub struct AuthedOperator(pub OperatorInfo);

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("auth_required", format!("operator requests must be signed (missing {name} header)")))
}

/// Authenticate an operator from request headers (body-less request).
pub async fn authenticate(state: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<OperatorInfo, ApiError> {
    authenticate_with_body(state, method, uri, headers, b"").await
}

fn stale() -> ApiError {
    ApiError::unauthorized("stale_request", "request timestamp is too far from the hub's clock")
}

/// Authenticate an operator's signed request with a body.
pub async fn authenticate_with_body(state: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<OperatorInfo, ApiError> {
    let operator_id = request_auth::id_from_header(header(headers, HEADER_OPERATOR)?)
        .ok_or_else(|| ApiError::unauthorized("auth_required", format!("{HEADER_OPERATOR} is not a percent-encoded UTF-8 id")))?;
    let ts: i64 =
        header(headers, HEADER_TIMESTAMP)?.parse().map_err(|_| ApiError::unauthorized("auth_required", "x-gatehouse-timestamp must be unix milliseconds"))?;
    let sig = header(headers, HEADER_SIGNATURE)?.to_owned();
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| uri.path().to_owned());
    let now = chrono::Utc::now().timestamp_millis();
    // Before the database: a stale request costs nothing.
    request_auth::check_fresh(ts, now).map_err(|_| stale())?;
    let id = operator_id.clone();
    let op = state
        .store
        .read(move |c| operators::get_active(c, &id))
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown_operator", format!("operator {operator_id:?} is not enrolled on this hub")))?;
    let key = PublicKey::from_hex(&op.public_key).map_err(ApiError::internal)?;
    request_auth::verify(&key, method.as_str(), &path, ts, body, &sig, now).map_err(|e| match e {
        RequestAuthError::Stale => stale(),
        RequestAuthError::Key(_) => ApiError::unauthorized("invalid_signature", "request signature does not verify"),
    })?;
    Ok(op)
}

impl FromRequestParts<AppState> for AuthedOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.method, &parts.uri, &parts.headers).await.map(AuthedOperator)
    }
}

pub use gatehouse_protocol::wire::Via;

/// The bearer token of a request, if it carries an `Authorization` header
/// (empty when the header is not `Bearer …`, so it is refused, not ignored).
/// The one parser every route uses.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(|v| v.strip_prefix("Bearer ").unwrap_or("").trim().to_owned())
}

/// The principal a request's credentials prove, if it carries any: a request
/// signed with the principal's key, or its API token. Credentials that do not
/// verify are refused (401), never ignored; no credentials at all is `None`.
pub async fn prove_principal(s: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> ApiResult<Option<(String, Via)>> {
    if let Some(v) = headers.get("x-gatehouse-principal") {
        let id = v
            .to_str()
            .ok()
            .and_then(request_auth::id_from_header)
            .ok_or_else(|| ApiError::unauthorized("auth_required", "x-gatehouse-principal is not a percent-encoded UTF-8 id"))?;
        let ts: i64 = headers
            .get(HEADER_TIMESTAMP)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiError::unauthorized("auth_required", "signed requests need x-gatehouse-timestamp"))?;
        let sig = headers.get(HEADER_SIGNATURE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let lookup = id.clone();
        let key = s.store.read(move |c| crate::store::principals::key_of(c, &lookup)).await?;
        let key = match key {
            Some(Some(k)) => gatehouse_protocol::PublicKey::from_hex(&k).map_err(ApiError::internal)?,
            Some(None) => return Err(ApiError::unauthorized("invalid_signature", format!("principal {id:?} has no public key; use its API token"))),
            None => return Err(ApiError::unauthorized("unknown_principal", format!("no principal {id:?}"))),
        };
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
        request_auth::verify(&key, method.as_str(), path, ts, body, &sig, chrono::Utc::now().timestamp_millis())
            .map_err(|_| ApiError::unauthorized("invalid_signature", "the request signature does not verify against the principal's key"))?;
        return Ok(Some((id, Via::Signature)));
    }
    if let Some(token) = bearer(headers) {
        return match s.store.read(move |c| crate::store::principals::by_token(c, &token)).await? {
            Some(id) => Ok(Some((id, Via::Token))),
            None => Err(ApiError::unauthorized("unknown_principal", "the API token matches no principal")),
        };
    }
    Ok(None)
}

/// The principal a claimed name denotes on a `--dev-open` hub: the one whose
/// id folds to the same name (NFKC, case folding, trimming), so `Mailbot`,
/// `mailbot ` and `ｍａｉｌｂｏｔ` are all held to `mailbot`'s capabilities.
pub async fn principal_named(s: &AppState, claimed: &str) -> ApiResult<Option<String>> {
    let name = claimed.to_owned();
    s.store.read(move |c| crate::store::principals::by_name(c, &name)).await
}

/// Who is proposing: the principal its credentials prove (an API token, or
/// a request signed with the principal's key), or, on a `--dev-open` hub,
/// the principal the actor's name denotes, if there is one.
pub async fn principal_for(s: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8], actor_name: &str) -> ApiResult<Option<String>> {
    if let Some((id, _)) = prove_principal(s, method, uri, headers, body).await? {
        return Ok(Some(id));
    }
    if s.dev_open {
        return principal_named(s, actor_name).await;
    }
    Err(ApiError::unauthorized(
        "auth_required",
        "send the principal's API token (Authorization: Bearer) or a request signed with its key; only a --dev-open hub on loopback takes anonymous proposals",
    ))
}

/// An operator's signed mutation, with what the replay cache needs.
pub struct SignedMutation {
    pub operator: OperatorInfo,
    pub seen: crate::store::replay::Seen,
}

/// Authenticate an operator's signed mutation (the body is covered by the
/// signature). The caller claims `seen` in the replay cache
/// (`store::replay::claim`) in the same transaction as the change, so each
/// signed request takes effect once.
pub async fn authenticate_mutation(state: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> ApiResult<SignedMutation> {
    let operator = authenticate_with_body(state, method, uri, headers, body).await?;
    // Verified above, so these parse.
    let ts: i64 = header(headers, HEADER_TIMESTAMP)?.parse().map_err(|_| ApiError::unauthorized("auth_required", "bad timestamp"))?;
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| uri.path().to_owned());
    let mut h = Sha256::new();
    h.update(b"gatehouse.replay.v1\0");
    h.update(operator.operator_id.as_bytes());
    h.update(b"\0");
    h.update(request_auth::message(method.as_str(), &path, ts, body));
    let seen = crate::store::replay::Seen {
        key: hex::encode(h.finalize()),
        operator_id: operator.operator_id.clone(),
        method: method.as_str().to_owned(),
        path,
        expires_ms: ts.saturating_add(request_auth::MAX_SKEW_MS),
    };
    Ok(SignedMutation { operator, seen })
}
