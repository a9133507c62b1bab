//! Swarm helpers over HTTP. A parent spawns helpers with its own credentials
//! (the parent is derived from them, never claimed); each helper then reports
//! with the token it was given at spawn. Operators watch and order stops.

use crate::app::AppState;
use crate::auth::{self, AuthedOperator};
use crate::error::{ApiError, ApiResult};
use crate::json::{self, JsonBody, RawBody};
use crate::store::{helpers, principals, replay};
use crate::validate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use gatehouse_protocol::names::fold_name;
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{DesiredState, HelperStatus, HelperView};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpawnBody {
    name: String,
    swarm_id: String,
    #[serde(default)]
    ttl_seconds: Option<i64>,
    #[serde(default)]
    task: Option<String>,
    /// Only on a --dev-open hub without credentials: who the parent is.
    #[serde(default)]
    parent: Option<String>,
}

pub async fn spawn(State(s): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, RawBody(body): RawBody) -> ApiResult<(StatusCode, Json<Value>)> {
    // A helper's own token is not a parent's credential: no helper chains.
    if let Some(t) = auth::bearer(&headers) {
        let h = principals::token_hash(&t);
        if s.store.read(move |c| helpers::is_helper_token(c, &h)).await? {
            return Err(ApiError::forbidden("helper_chain_forbidden", "helpers may not spawn helpers"));
        }
    }
    let (req, _): (SpawnBody, Value) = json::parse(&body)?;
    let proven = auth::prove_principal(&s, &method, &uri, &headers, &body).await?;
    if proven.is_none() && !s.dev_open {
        return Err(ApiError::unauthorized("auth_required", "spawning needs the parent's credentials"));
    }
    // Naming a helper as the parent is a helper chain too, in every mode.
    if let Some(claimed) = req.parent.as_deref() {
        let (raw, folded) = (claimed.trim().to_owned(), fold_name(claimed));
        if s.store.read(move |c| Ok(helpers::get(c, &raw)?.is_some() || helpers::get(c, &folded)?.is_some())).await? {
            return Err(ApiError::forbidden("helper_chain_forbidden", "helpers may not spawn helpers: the parent named is a helper"));
        }
    }
    let parent = match proven {
        Some((p, _)) => p,
        // Dev-open, anonymous: the claimed parent, held to the principal it
        // denotes (folded like actor names), else its folded form.
        None => {
            let claimed = req.parent.clone().unwrap_or_default();
            match auth::principal_named(&s, &claimed).await? {
                Some(p) => p,
                None if !fold_name(&claimed).is_empty() => fold_name(&claimed),
                None => {
                    return Err(ApiError::unauthorized("auth_required", "spawning needs the parent's credentials (or, on a --dev-open hub, a parent name)"))
                }
            }
        }
    };
    validate::text("name", &req.name)?;
    validate::text("swarmId", &req.swarm_id)?;
    let ttl = req.ttl_seconds.unwrap_or(3600);
    if !(1..=86_400).contains(&ttl) {
        return Err(ApiError::unprocessable("invalid_body", "ttlSeconds must be 1..86400"));
    }
    let now = time::now();
    let id = uuid::Uuid::new_v4().to_string();
    let token = format!("ghh_{}", hex::encode(rand::random::<[u8; 32]>()));
    let (hash, cap) = (principals::token_hash(&token), s.helper_cap);
    let (now_s, ttl_at) = (time::format(&now), time::format(&(now + chrono::Duration::seconds(ttl))));
    let (h, powered) = s
        .store
        .write(move |tx| {
            helpers::spawn(
                tx,
                &helpers::Spawn {
                    id: &id,
                    name: req.name.trim(),
                    parent: &parent,
                    swarm: req.swarm_id.trim(),
                    task: req.task.as_deref(),
                    token_hash: &hash,
                    ttl_expires_at: &ttl_at,
                    cap,
                },
                &now_s,
            )
        })
        .await?;
    let power = if powered {
        json!({"ok": true})
    } else {
        json!({"ok": false, "code": "helper_cap_reached", "message": format!("the parent already runs {cap} helpers; this one was created stopped")})
    };
    Ok((StatusCode::CREATED, Json(json!({"helper": h, "token": token, "power": power}))))
}

async fn authorized(s: &AppState, id: &str, headers: &HeaderMap) -> ApiResult<HelperView> {
    let token = auth::bearer(headers).ok_or_else(|| ApiError::unauthorized("auth_required", "helpers report with their token (Authorization: Bearer)"))?;
    let (id, hash) = (id.to_owned(), principals::token_hash(&token));
    s.store.read(move |c| helpers::authorize(c, &id, &hash)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Heartbeat {
    state: String,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    progress: Option<f64>,
}

pub async fn heartbeat(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, JsonBody(hb, _): JsonBody<Heartbeat>) -> ApiResult<Json<Value>> {
    let Some(state) = HelperStatus::parse(&hb.state).filter(|st| st.is_live()) else {
        let names: Vec<&str> = HelperStatus::REPORTABLE.iter().map(|st| st.as_str()).collect();
        return Err(ApiError::unprocessable("invalid_body", format!("state must be one of {names:?}")));
    };
    if hb.progress.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return Err(ApiError::unprocessable("invalid_body", "progress must be between 0 and 1"));
    }
    let h = authorized(&s, &id, &headers).await?;
    let now = time::format(&time::now());
    let after = s.store.write(move |tx| helpers::heartbeat(tx, &h, state, hb.task.as_deref(), hb.progress, &now)).await?;
    let must_exit = after.desired_state == DesiredState::Stopped;
    Ok(Json(json!({
        "desiredState": after.desired_state,
        "mustExit": must_exit,
        "stop": must_exit.then(|| json!({"reason": after.stop_reason, "by": after.stop_by, "deadline": after.stop_deadline})),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retire {
    reason: String,
}

pub async fn retire(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, JsonBody(r, _): JsonBody<Retire>) -> ApiResult<Json<HelperView>> {
    validate::text("reason", &r.reason)?;
    let h = authorized(&s, &id, &headers).await?;
    let now = time::format(&time::now());
    let out = s.store.write(move |tx| helpers::retire(tx, &h.id, r.reason.trim(), helpers::Retirement::Own, &now)).await?;
    match out {
        Some(h) => Ok(Json(h)),
        None => Err(ApiError::gone("helper_retired", "this helper already retired")),
    }
}

pub async fn list(State(s): State<AppState>, _op: AuthedOperator) -> ApiResult<Json<Vec<HelperView>>> {
    Ok(Json(s.store.read(helpers::list).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StopBody {
    reason: String,
    #[serde(default)]
    grace_seconds: Option<i64>,
}

/// An operator's stop order: a signed request; the helper sees it on its
/// next heartbeat, and the reaper retires it at the deadline if it has not.
pub async fn stop(
    State(s): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let signed = auth::authenticate_mutation(&s, &method, &uri, &headers, &body).await?;
    let (req, _): (StopBody, Value) = json::parse(&body)?;
    if req.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("invalid_body", "a stop order needs a reason"));
    }
    let grace = req.grace_seconds.unwrap_or(30).clamp(1, 3600);
    let now = time::now();
    let (now_s, deadline) = (time::format(&now), time::format(&(now + chrono::Duration::seconds(grace))));
    let now_ms = now.timestamp_millis();
    let by = signed.operator.operator_id.clone();
    s.store
        .write(move |tx| {
            // The same signed order again changes nothing: no new deadline,
            // no second event; the answer says so.
            if !replay::claim(tx, &signed.seen, now_ms, &now_s)? {
                let h = helpers::get(tx, &id)?.ok_or_else(|| ApiError::not_found("unknown_helper", format!("no helper {id:?}")))?;
                let mut v = serde_json::to_value(h).map_err(ApiError::internal)?;
                v["outcome"] = json!("already_applied");
                return Ok(Json(v));
            }
            let h = helpers::order_stop(tx, &id, &by, req.reason.trim(), &deadline, &now_s)?;
            Ok(Json(serde_json::to_value(h).map_err(ApiError::internal)?))
        })
        .await
}
