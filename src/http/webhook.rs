//! Meta's side of the API: the health check, the subscription handshake and deliveries
//! (verify → parse → decide → act).

use crate::config::{Config, Secret};
use crate::context::Ctx;
use crate::delivery::ingest;
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::http::{Request, MAX_WEBHOOK_BODY};
use crate::platform::Platform;
use crate::send::Outbound;
use crate::store::keys::KeyScheme;
use crate::store::kv::Kv;
use crate::time::UnixTime;
use crate::webhook::handshake::{verify_subscription, HandshakeError};
use crate::webhook::signature::{verify_on, SecretUsed, Verifier};
use crate::webhook::{self, ParseError};
use serde_json::json;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /healthz`: whether every secret is set and every variable valid (names only), and how
/// many sends the worker is still making after earlier answers.
pub fn health(config: &Config, in_flight_sends: u32) -> Response {
    let mut settings = serde_json::Map::new();
    for s in Secret::REQUIRED
        .iter()
        .chain([Secret::AppSecretPrevious].iter())
    {
        settings.insert(s.name().to_string(), json!(config.secret(*s).is_some()));
    }
    let problems: Vec<String> = config.problems.iter().map(|p| p.to_string()).collect();
    let ready = problems.is_empty() && Secret::REQUIRED.iter().all(|s| config.secret(*s).is_some());
    Response::json(
        200,
        json!({ "service": "wa-edge", "version": VERSION, "ready": ready, "settings": settings,
                "retention_days": config.retention_days, "problems": problems,
                "in_flight_sends": in_flight_sends }),
    )
}

/// `GET /webhook`: Meta's subscription handshake.
pub fn handshake(config: &Config, query: &[(String, String)]) -> Result<Response, ApiError> {
    let token = config.require(Secret::VerifyToken)?;
    match verify_subscription(query, token) {
        Ok(challenge) => Ok(Response::text(200, challenge).with_log("handshake accepted".into())),
        Err(HandshakeError::BadChallenge) => Err(ApiError::BadRequest {
            code: "bad_challenge",
            message: "hub.challenge is missing or too long",
        }),
        Err(HandshakeError::Forbidden) => Err(ApiError::HandshakeRefused),
    }
}

/// `POST /webhook`: a delivery. Nothing is parsed before the signature holds.
pub async fn delivery<K: Kv, G: Platform>(
    config: &Config,
    kv: &K,
    graph: &G,
    req: &Request,
    now: UnixTime,
) -> Result<(Response, Vec<Outbound>), ApiError> {
    let app_secret = config.require(Secret::AppSecret)?;
    let contact_secret = config.require(Secret::ContactKeySecret)?;
    config.check_valid()?;
    if req.body.len() > MAX_WEBHOOK_BODY {
        return Err(ApiError::PayloadTooLarge);
    }
    let previous = config.secret(Secret::AppSecretPrevious).map(str::as_bytes);
    let verified = verify_on(
        graph,
        &req.body,
        req.signature.as_deref(),
        app_secret.as_bytes(),
        previous,
    )
    .await
    .map_err(ApiError::Signature)?;
    let mut notes = format!("verified by {}", verifier_name(verified.verifier));
    if verified.secret == SecretUsed::Previous {
        notes.push_str(" with the previous app secret");
    }
    let events = match webhook::parse(&req.body) {
        Ok(events) => events,
        Err(ParseError::NotAnEnvelope(why)) => {
            let response = Response::json(200, json!({ "status": "ignored" }));
            return Ok((
                response.with_log(format!("signed but unparseable: {why}; {notes}")),
                Vec::new(),
            ));
        }
    };
    let keys = KeyScheme::new(contact_secret);
    let ctx = Ctx::new(kv, &keys, config, now);
    let (summary, outbox) = ingest(&ctx, events).await?;
    let summary = serde_json::to_string(&summary).unwrap_or_default();
    let response = Response::json(200, json!({ "status": "ok" }));
    Ok((
        response.with_log(format!("delivery {summary}; {notes}")),
        outbox,
    ))
}

fn verifier_name(v: Verifier) -> &'static str {
    match v {
        Verifier::Rust => "rust",
        Verifier::Platform => "webcrypto",
    }
}
