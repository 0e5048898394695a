//! Consent for other systems: read one contact's record and ledger, record consent given or
//! withdrawn outside WhatsApp (with evidence), and check many contacts before a campaign.

use crate::authority::resolve::call_person;
use crate::authority::{Answer, Authorities, Op};
use crate::context::Ctx;
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::ids::WaId;
use crate::policy::retention::MAX_CLOCK_SKEW;
use crate::store::consent::{self, ConsentChange, ConsentRecord, ConsentStatus, Scope, Source};
use crate::store::kv::Kv;
use crate::time::UnixTime;
use serde::Deserialize;
use serde_json::json;

/// A campaign tool checks a batch before sending; 1000 matches Meta's own batch size.
pub const MAX_CHECK_IDS: usize = 1000;
pub const MAX_EVIDENCE_LEN: usize = 500;

fn view(wa: &WaId, record: &ConsentRecord, linked: &[WaId]) -> serde_json::Value {
    json!({"wa_id": wa, "status": record.status, "scope": record.scope, "updated_at": record.updated_at, "history": record.history, "linked_ids": linked})
}

/// The record as the person's authority holds it.
async fn ask<K, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    wa: &WaId,
    op: Op,
) -> Result<Response, ApiError> {
    match call_person(authorities, &ctx.keys.contact(wa), &op)
        .await?
        .1
    {
        Answer::Consent { record, ids } => Ok(Response::json(200, view(wa, &record, &ids))),
        _ => Err(ApiError::unexpected_answer()),
    }
}

/// `GET /v1/contacts/{id}/consent`: from the person's authority, never the KV view.
pub async fn get<K, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    wa: &WaId,
) -> Result<Response, ApiError> {
    ask(ctx, authorities, wa, Op::GetConsent).await
}

#[derive(Deserialize)]
struct ConsentInput {
    status: ConsentStatus,
    scope: Option<Scope>,
    evidence: Option<String>,
    /// When the person gave or withdrew consent; defaults to now.
    at: Option<u64>,
}

/// The change a `PUT` asks for, validated.
fn admin_change(body: &[u8], now: UnixTime) -> Result<ConsentChange, ApiError> {
    let input: ConsentInput = crate::serde_ext::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            "invalid_body",
            r#"expected {"status":"opted_in"|"opted_out","scope":"all"|"marketing","evidence":"..."}"#,
        )
    })?;
    if input.status == ConsentStatus::Unknown {
        return Err(ApiError::bad_request(
            "invalid_status",
            "status must be opted_in or opted_out",
        ));
    }
    let evidence = input
        .evidence
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .ok_or(ApiError::bad_request(
            "evidence_required",
            "say where and how consent was given or withdrawn",
        ))?;
    if evidence.chars().count() > MAX_EVIDENCE_LEN {
        return Err(ApiError::bad_request(
            "evidence_too_long",
            "evidence is limited to 500 characters",
        ));
    }
    let at = match input.at.map(UnixTime::from_meta) {
        Some(t) if t.0 > now.0 + MAX_CLOCK_SKEW => {
            return Err(ApiError::bad_request("invalid_time", "at is in the future"))
        }
        Some(t) => t,
        None => now,
    };
    Ok(ConsentChange {
        status: input.status,
        scope: input.scope.unwrap_or(Scope::All),
        at,
        source: Source::Admin,
        message_id: None,
        keyword: None,
        evidence: Some(evidence),
        applied: false,
    })
}

/// `PUT /v1/contacts/{id}/consent`: consent recorded outside WhatsApp, with its evidence, in
/// the person's ledger (one change at a time with everything else about them).
pub async fn put<K, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    wa: &WaId,
    body: &[u8],
) -> Result<Response, ApiError> {
    let change = admin_change(body, ctx.now)?;
    ask(
        ctx,
        authorities,
        wa,
        Op::PutConsent {
            change,
            id: Some(wa.clone()),
        },
    )
    .await
}

#[derive(Deserialize)]
struct CheckInput {
    wa_ids: Vec<String>,
}

/// `POST /v1/consent/check`: may these contacts be messaged? Read from the KV view (one bulk
/// read, for campaign tools; see README on how stale it can be). Fails closed as a whole when
/// any record cannot be read.
pub async fn check<K: Kv>(ctx: &Ctx<'_, K>, body: &[u8]) -> Result<Response, ApiError> {
    let input = crate::serde_ext::from_slice::<CheckInput>(body)
        .map_err(|_| ApiError::bad_request("invalid_body", r#"expected {"wa_ids":[...]}"#))?;
    if input.wa_ids.len() > MAX_CHECK_IDS {
        return Err(ApiError::bad_request(
            "too_many_ids",
            "at most 1000 wa_ids per request",
        ));
    }
    let ids = input
        .wa_ids
        .iter()
        .map(|raw| WaId::parse_user_input(raw))
        .collect::<Option<Vec<WaId>>>()
        .ok_or(ApiError::bad_request(
            "invalid_wa_id",
            "every wa_id must be a WhatsApp id",
        ))?;
    let contacts: Vec<_> = ids.iter().map(|wa| ctx.keys.contact(wa)).collect();
    let records = consent::load_many(ctx.kv, &contacts).await?;
    let results: Vec<_> = ids
        .iter()
        .zip(records)
        .map(|(wa, record)| {
            json!({"wa_id": wa, "status": record.status, "scope": record.scope, "can_message": record.allows(false), "can_market": record.allows(true)})
        })
        .collect();
    Ok(Response::json(200, json!({"results": results})))
}
