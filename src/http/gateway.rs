//! `POST /{version}/{phone_number_id}/messages`: Meta's own path, so a business's existing
//! client (pywa, whatsapp-api-js, Meta's SDK, curl) sends through wa-edge's guards unchanged.
//! Sends take the one send path (`send`); mark-as-read and the typing indicator go to Meta as
//! they are. Every answer is in Meta's shape: its success object, its errors unchanged, and
//! wa-edge's refusals in Meta's error envelope with Meta's code where one fits, so the client
//! raises its usual exceptions.

use crate::authority::Authorities;
use crate::config::{Config, Secret};
use crate::context::Ctx;
use crate::http::auth::{scope_of, Scope as TokenScope};
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::http::send::{meta_success, parse, send, Parsed};
use crate::http::{Request, Route, World};
use crate::ids::PhoneNumberId;
use crate::platform::Platform;
use crate::send::graph::messages_url;
use crate::serde_ext::RawJson;
use crate::store::consent::Scope;
use crate::store::kv::{Kv, KvError};
use crate::time::UnixTime;
use serde_json::json;

/// wa-edge's own error codes, for refusals Meta has no code for (documented in the README).
pub mod codes {
    /// The person opted out of every message from the business.
    pub const OPTED_OUT: i64 = 900_001;
    /// The person got their marketing templates for the rolling 24 hours.
    pub const MARKETING_CAP: i64 = 900_002;
    /// The number's daily budget of business-initiated messages is used.
    pub const RAMP_BUDGET: i64 = 900_003;
    /// Marketing is paused after Meta reported the number's quality or a restriction.
    pub const MARKETING_PAUSED: i64 = 900_004;
    /// The person's ids are being linked: retry in a few seconds.
    pub const IDENTITY_UNRESOLVED: i64 = 900_005;
    /// The Graph API did not answer: the message may have gone out.
    pub const GRAPH_UNREACHABLE: i64 = 900_006;
    /// Every send is stopped by an operator (the emergency stop) until resumed.
    pub const SENDING_STOPPED: i64 = 900_007;
}

/// The route's answer, whatever happens.
pub async fn handle<K: Kv, G: Platform, A: Authorities>(
    config: &Config,
    world: &World<'_, K, G, A>,
    req: &Request,
    now: UnixTime,
) -> Response {
    match serve(config, world, req, now).await {
        Ok(response) => response,
        Err(e) => envelope(e),
    }
}

async fn serve<K: Kv, G: Platform, A: Authorities>(
    config: &Config,
    world: &World<'_, K, G, A>,
    req: &Request,
    now: UnixTime,
) -> Result<Response, ApiError> {
    let Route::GraphMessages { phone_number_id } = &req.route else {
        return Err(ApiError::NotFound);
    };
    if scope_of(config, req.authorization.as_deref())? == TokenScope::Viewer {
        return Err(ApiError::Forbidden);
    }
    let number = PhoneNumberId::parse(phone_number_id).ok_or(ApiError::bad_request(
        "invalid_phone_number_id",
        "the path's phone number id must be Meta's numeric id",
    ))?;
    let ctx = Ctx::new(world.kv, config.keys()?, config, now);
    match parse(&req.body, req.category.as_deref())? {
        Parsed::PassThrough(body) => pass_through(config, world.platform, &number, &body).await,
        Parsed::Send(mut request) => {
            // The path names the number; a `from` in the body is not Meta's and is ignored.
            request.from = Some(number);
            let (input, to) = (request.input.clone(), request.to.clone());
            let id = send(&ctx, world.authorities, request).await?;
            Ok(meta_success(&input, &to, &id).with_log("gateway: sent".into()))
        }
    }
}

/// Mark-as-read and the typing indicator: about an inbound message, not to a person; no guard
/// applies, and Meta's answer is handed back as it is.
async fn pass_through<G: Platform>(
    config: &Config,
    platform: &G,
    number: &PhoneNumberId,
    body: &RawJson,
) -> Result<Response, ApiError> {
    let token = config.require(Secret::AccessToken)?;
    let url = messages_url(config, number);
    match platform.post(&url, token, body.as_str()).await {
        Ok((status, text)) => Ok(Response::body(status, "application/json", text)
            .with_log(format!("gateway: passed through, Meta answered {status}"))),
        Err(_) => Err(ApiError::Graph {
            action: crate::policy::meta_errors::ErrorAction::NoAnswer,
            meta_code: None,
            http_status: 0,
            meta_body: None,
        }),
    }
}

/// Meta's error envelope.
fn meta_error(status: u16, code: i64, message: &str, details: &str) -> Response {
    Response::json(
        status,
        json!({"error": json!({"message": message, "type": "OAuthException", "code": code, "error_data": json!({"messaging_product": "whatsapp", "details": details}), "fbtrace_id": "wa-edge"})}),
    )
}

/// Every error of this route in Meta's words.
pub fn envelope(e: ApiError) -> Response {
    use codes::*;
    let refused = |code, message: &str, details: &str| meta_error(400, code, message, details);
    match e {
        ApiError::Graph {
            meta_body: Some(body),
            http_status,
            ..
        } if http_status >= 400 => Response::body(http_status, "application/json", body)
            .with_log(format!("gateway: Meta refused, http {http_status}")),
        ApiError::Graph {
            meta_code,
            http_status,
            ..
        } => {
            let status = if http_status == 0 { 504 } else { 502 };
            meta_error(
                status,
                meta_code.unwrap_or(GRAPH_UNREACHABLE),
                "No usable answer from the Graph API",
                "the message may have gone out; it was recorded as unknown and not retried",
            )
        }
        ApiError::OptedOut {
            scope: Some(Scope::Marketing),
        } => refused(
            131050,
            "Unable to deliver message: the user stopped marketing messages",
            "recorded by wa-edge; utility and authentication templates still go",
        ),
        ApiError::OptedOut { .. } => refused(
            OPTED_OUT,
            "The user opted out of all messages from this business",
            "wa-edge consent ledger: the person sent STOP or was opted out; nothing was sent",
        ),
        ApiError::WindowClosed => refused(
            131047,
            "Re-engagement message",
            "more than 24 hours have passed since the customer last replied; send a template",
        ),
        ApiError::Undeliverable { .. } => refused(
            131026,
            "Message undeliverable",
            "Meta reported this person undeliverable or blocking; wa-edge does not retry",
        ),
        ApiError::PairRateLimited {
            retry_after_seconds,
        } => refused(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            &format!("retry after {retry_after_seconds} seconds"),
        ),
        ApiError::SendingStopped => refused(
            SENDING_STOPPED,
            "Sending stopped",
            "an operator stopped every send; resume with DELETE /v1/account/pause",
        ),
        ApiError::NumberPaused => refused(
            131048,
            "Spam rate limit hit",
            "sending from this number is paused until resumed with DELETE /v1/account/pause",
        ),
        ApiError::MarketingCapped => refused(
            MARKETING_CAP,
            "Marketing message limit for this person reached",
            "MARKETING_PER_DAY marketing templates per person per rolling 24 hours",
        ),
        ApiError::RampBudgetUsed => refused(
            RAMP_BUDGET,
            "Daily budget of business-initiated messages used",
            "RAMP_DAILY_LIMIT for this number is used for the UTC day",
        ),
        ApiError::MarketingPaused => refused(
            MARKETING_PAUSED,
            "Marketing paused",
            "Meta reported the number's quality or a restriction; resume with DELETE /v1/account/pause",
        ),
        ApiError::IdentityUnresolved => meta_error(
            503,
            IDENTITY_UNRESOLVED,
            "Service temporarily unavailable",
            "this person's ids are being linked; retry in a few seconds",
        ),
        ApiError::TooManyFailures => meta_error(
            429,
            4,
            "Application request limit reached",
            "too many requests without a valid token from this client; wait a minute",
        )
        .with_log("credential failures over the limit".into()),
        ApiError::Unauthorized | ApiError::Forbidden => meta_error(
            401,
            190,
            "Invalid OAuth access token",
            "use SEND_TOKEN or ADMIN_TOKEN as the bearer token",
        ),
        ApiError::BadRequest { message, .. } => {
            meta_error(400, 100, "Invalid parameter", message)
        }
        ApiError::PayloadTooLarge => {
            meta_error(413, 100, "Invalid parameter", "the body is too large")
        }
        ApiError::Storage(KvError::Corrupt(what)) => meta_error(
            500,
            131000,
            "Something went wrong",
            "a stored record of this person cannot be read: nothing is sent to them until it is repaired",
        )
        .with_log(format!("unreadable {what} record")),
        ApiError::Storage(_) => meta_error(
            503,
            2,
            "Service temporarily unavailable",
            "storage is unavailable; retry",
        ),
        other => {
            let mut r = meta_error(500, 1, "An unknown error occurred", "see the worker's log");
            r.log = Response::from(other).log;
            r
        }
    }
}
