//! Meta's side of the API: the health check, the subscription handshake and deliveries
//! (verify → parse → decide → act).

use crate::authority::route;
use crate::authority::{resolve, Answer, Authorities};
use crate::config::{Config, Secret};
use crate::context::Ctx;
use crate::delivery::ingest_unrouted;
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::http::{Request, World, MAX_WEBHOOK_BODY};
use crate::platform::Platform;
use crate::store::kv::Kv;
use crate::time::UnixTime;
use crate::webhook::handshake::{verify_subscription, HandshakeError};
use crate::webhook::signature::{verify_on, SecretUsed, Verifier};
use crate::webhook::{self, ParseError};
use serde_json::json;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /healthz`: whether every secret is set and every variable valid (names only).
pub fn health(config: &Config) -> Response {
    let mut names: Vec<_> = Secret::REQUIRED
        .iter()
        .chain(Secret::OPTIONAL.iter())
        .collect();
    names.sort_by_key(|s| s.name());
    let settings: serde_json::Map<String, serde_json::Value> = names
        .into_iter()
        .map(|s| (s.name().to_string(), config.secret(*s).is_some().into()))
        .collect();
    let problems: Vec<String> = config.problems.iter().map(|p| p.to_string()).collect();
    let ready = problems.is_empty() && Secret::REQUIRED.iter().all(|s| config.secret(*s).is_some());
    Response::json(
        200,
        json!({"service": "wa-edge", "version": VERSION, "ready": ready, "settings": settings, "retention_days": config.retention_days, "problems": problems}),
    )
}

/// `GET /webhook`: Meta's subscription handshake.
pub fn handshake(config: &Config, query: &[(String, String)]) -> Result<Response, ApiError> {
    let token = config.require(Secret::VerifyToken)?;
    match verify_subscription(query, token) {
        Ok(challenge) => Ok(Response::text(200, challenge).with_log("handshake accepted".into())),
        Err(HandshakeError::BadChallenge) => Err(ApiError::bad_request(
            "bad_challenge",
            "hub.challenge is missing or too long",
        )),
        Err(HandshakeError::Forbidden) => Err(ApiError::HandshakeRefused),
    }
}

/// `POST /webhook`: a delivery. Nothing is parsed before the signature holds. Each person's
/// events go to their authority (one call per person), the rest is stored here; the answer is
/// 200 only when every part is committed.
pub async fn delivery<K: Kv, G: Platform, A: Authorities>(
    config: &Config,
    world: &World<'_, K, G, A>,
    req: &Request,
    now: UnixTime,
) -> Result<Response, ApiError> {
    let app_secret = config.require(Secret::AppSecret)?;
    let keys = config.keys()?;
    config.check_valid()?;
    if req.body.len() > MAX_WEBHOOK_BODY {
        return Err(ApiError::PayloadTooLarge);
    }
    let previous = config.secret(Secret::AppSecretPrevious).map(str::as_bytes);
    let verified = verify_on(
        world.platform,
        &req.body,
        req.signature.as_deref(),
        app_secret.as_bytes(),
        previous,
    )
    .await
    .map_err(ApiError::Signature)?;
    let mut notes = ["verified by ", verifier_name(verified.verifier)].concat();
    if verified.secret == SecretUsed::Previous {
        notes.push_str(" with the previous app secret");
    }
    let events = match webhook::parse(&req.body) {
        Ok(events) => events,
        Err(ParseError::NotAnEnvelope(why)) => {
            let response = Response::json(200, json!({"status": "ignored"}));
            return Ok(response.with_log(format!("signed but unparseable: {why}; {notes}")));
        }
    };
    // Why items were invalid, for the operator: field names, kinds and positions, never values.
    let mut invalid: Vec<String> = Vec::new();
    for event in &events {
        if let webhook::Event::Invalid { field, reason } = event {
            let line = format!("{field}: {reason}");
            if invalid.len() < MAX_INVALID_LOGGED && !invalid.contains(&line) {
                invalid.push(line);
            }
        }
    }
    let split = route::split(keys, events);
    let ctx = Ctx::new(world.kv, keys, config, now);
    let (mut summary, _) = ingest_unrouted(&ctx, split.rest).await?;
    let calls = split
        .persons
        .iter()
        .map(|part| resolve::deliver(world.authorities, part));
    for answer in futures_util::future::join_all(calls).await {
        match answer? {
            Answer::Delivered { summary: part } => summary.add(&part),
            _ => return Err(ApiError::unexpected_answer()),
        }
    }
    let persons = split.persons.len();
    let summary = crate::serde_ext::to_string(&summary);
    let response = Response::json(200, json!({"status": "ok"}));
    let persons = (persons as u64).to_string();
    let mut line = [
        "delivery ",
        &summary,
        "; ",
        &persons,
        " person(s); ",
        &notes,
    ]
    .concat();
    if !invalid.is_empty() {
        line.push_str("; invalid items: ");
        line.push_str(&invalid.join("; "));
    }
    Ok(response.with_log(line))
}

/// The most distinct reasons for invalid items one delivery's log line names.
const MAX_INVALID_LOGGED: usize = 5;

fn verifier_name(v: Verifier) -> &'static str {
    match v {
        Verifier::Rust => "rust",
        Verifier::Platform => "webcrypto",
    }
}
