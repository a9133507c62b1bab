//! Principals and capabilities, for admins. Creating a principal is an
//! operator-signed request (its body is covered by the signature); grants
//! and revocations are signed envelopes of their own.

use crate::app::AppState;
use crate::auth::{self, AuthedOperator};
use crate::error::{ApiError, ApiResult};
use crate::json::{self, JsonBody, RawBody};
use crate::store::{principals, replay};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use gatehouse_protocol::grant::SignedGrant;
use gatehouse_protocol::wire::{GrantRecord, NewPrincipal, PrincipalCreated, PrincipalView};
use gatehouse_protocol::{time, PublicKey};

pub async fn list(State(s): State<AppState>, _op: AuthedOperator) -> ApiResult<Json<Vec<PrincipalView>>> {
    let now = time::format(&time::now());
    Ok(Json(s.store.read(move |c| principals::list(c, &now)).await?))
}

pub async fn create(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<PrincipalCreated>)> {
    let signed = auth::authenticate_mutation(&s, &method, &uri, &headers, &body).await?;
    let op = &signed.operator;
    if !op.role.may_administer() {
        return Err(ApiError::forbidden("admin_required", "only admins add principals"));
    }
    let (req, _): (NewPrincipal, _) = json::parse(&body)?;
    let id = req.id.trim().to_owned();
    crate::validate::identifier("id", &id)?;
    crate::validate::text("org", &req.org)?;
    let key = match &req.public_key {
        Some(k) => Some(PublicKey::from_hex(k).map_err(|e| ApiError::unprocessable("invalid_body", format!("public_key: {e}")))?.to_hex()),
        None => None,
    };
    // Without a key, the principal authenticates with an API token, shown once.
    let token = key.is_none().then(|| format!("ghp_{}", hex::encode(rand::random::<[u8; 32]>())));
    let now_t = time::now();
    let (now, now_ms) = (time::format(&now_t), now_t.timestamp_millis());
    let (org, by, t, seen) = (req.org.trim().to_owned(), op.operator_id.clone(), token.clone(), signed.seen);
    let principal = s
        .store
        .write(move |tx| {
            // Single-use: the same signed request again creates nothing (and
            // never shows a token again).
            if !replay::claim(tx, &seen, now_ms, &now)? {
                return Err(ApiError::conflict("already_applied", "this signed request was already applied; sign a new one to repeat it"));
            }
            principals::create(tx, &id, &org, key.as_deref(), t.as_deref(), &by, &now)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(PrincipalCreated { principal, token })))
}

pub async fn history(State(s): State<AppState>, _op: AuthedOperator, Path(id): Path<String>) -> ApiResult<Json<Vec<GrantRecord>>> {
    Ok(Json(
        s.store
            .read(move |c| {
                if !principals::exists(c, &id)? {
                    return Err(ApiError::not_found("unknown_principal", format!("no principal {id:?}")));
                }
                principals::history(c, &id)
            })
            .await?,
    ))
}

pub async fn grant(State(s): State<AppState>, JsonBody(signed, _): JsonBody<SignedGrant>) -> ApiResult<Json<PrincipalView>> {
    let now = time::now();
    Ok(Json(s.store.write(move |tx| principals::apply(tx, &signed, now)).await?))
}
