//! Every error a request can end in, and the one match that turns each into its status, code
//! and body. Handlers return `Result<Response, ApiError>`; nothing else picks a status.

use crate::config::ConfigError;
use crate::http::response::Response;
use crate::policy::meta_errors::ErrorAction;
use crate::store::consent::Scope;
use crate::store::kv::KvError;
use crate::webhook::signature::SignatureError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    NotFound,
    MethodNotAllowed(&'static str),
    PayloadTooLarge,
    UnreadableBody,
    NotConfigured(ConfigError),
    /// KV failed, or a record that gates sending could not be read (fail closed).
    Storage(KvError),
    Signature(SignatureError),
    HandshakeRefused,
    Unauthorized,
    /// Too many wrong or missing tokens from this client in the limiter's period.
    TooManyFailures,
    /// A valid token whose scope does not cover the route (`SEND_TOKEN` outside sending).
    Forbidden,
    /// A console request that changes something without its session's CSRF token.
    CsrfRefused,
    /// A request the caller must fix: a stable code and a message that says how.
    BadRequest {
        code: &'static str,
        message: &'static str,
    },
    /// The send API's guards, checked before any Graph call.
    OptedOut {
        scope: Option<Scope>,
    },
    WindowClosed,
    Undeliverable {
        code: Option<i64>,
    },
    PairRateLimited {
        retry_after_seconds: u64,
    },
    NumberPaused,
    /// Every send is stopped by an operator (`PUT /v1/account/pause`) until resumed.
    SendingStopped,
    /// The business-initiated guards (`policy::business`).
    MarketingCapped,
    RampBudgetUsed,
    MarketingPaused,
    /// An id of the person is seen but not yet merged with the others: fail closed, retry.
    IdentityUnresolved,
    /// The Graph API refused or did not answer a send.
    Graph {
        action: ErrorAction,
        meta_code: Option<i64>,
        http_status: u16,
        /// Meta's error object as it came (the gateway answers with it unchanged).
        meta_body: Option<String>,
    },
}

impl ApiError {
    /// A request the caller must fix.
    pub fn bad_request(code: &'static str, message: &'static str) -> ApiError {
        ApiError::BadRequest { code, message }
    }

    /// A person's authority answered a request with an answer to another: a fault, answered 500.
    pub fn unexpected_answer() -> ApiError {
        ApiError::Storage(KvError::Corrupt("authority answer"))
    }
}

impl From<KvError> for ApiError {
    fn from(e: KvError) -> ApiError {
        ApiError::Storage(e)
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> ApiError {
        ApiError::NotConfigured(e)
    }
}

/// Meta's send errors, in the send API's own words: (status, code).
fn graph_status(action: ErrorAction) -> (u16, &'static str) {
    match action {
        ErrorAction::WindowClosed => (422, "window_closed"),
        ErrorAction::MarketingOptOut => (409, "opted_out"),
        ErrorAction::Undeliverable => (409, "undeliverable"),
        ErrorAction::PauseNumber => (429, "number_paused"),
        ErrorAction::PairRateLimited | ErrorAction::Throttled => (429, "rate_limited"),
        ErrorAction::MarketingLimit => (429, "marketing_limit"),
        ErrorAction::AccessToken => (502, "access_token"),
        ErrorAction::NoAnswer => (504, "graph_unreachable"),
        ErrorAction::BsuidUnsupported => (422, "bsuid_not_supported"),
        ErrorAction::Transient | ErrorAction::Rejected => (502, "graph_error"),
    }
}

/// Names the missing or invalid setting, never its value.
fn not_configured(e: &ConfigError) -> serde_json::Value {
    match e {
        ConfigError::Missing(name) => json!({"error": "not_configured", "missing": name}),
        ConfigError::Invalid { name, why } => {
            json!({"error": "not_configured", "invalid": name, "message": why})
        }
    }
}

fn graph_failure(action: ErrorAction, meta_code: Option<i64>, http_status: u16) -> Response {
    let (status, code) = graph_status(action);
    let mut body = json!({"error": code, "meta_code": meta_code, "http_status": http_status});
    let why = match action {
        ErrorAction::NoAnswer => Some("no answer from the Graph API; not retried, because a send has no idempotency key and may have gone out"),
        ErrorAction::BsuidUnsupported => Some("Meta cannot deliver this message type to a business-scoped user id; send it to the person's phone number"),
        _ => None,
    };
    if let (Some(why), Some(fields)) = (why, body.as_object_mut()) {
        fields.insert("message".into(), why.into());
    }
    Response::json(status, body)
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Response {
        match e {
            ApiError::NotFound => Response::error(404, "not_found", "no such endpoint"),
            ApiError::MethodNotAllowed(allow) => {
                let mut r = Response::error(
                    405,
                    "method_not_allowed",
                    "method not allowed on this endpoint",
                );
                r.allow = Some(allow);
                r
            }
            ApiError::PayloadTooLarge => Response::error(
                413,
                "payload_too_large",
                "body is larger than this endpoint accepts",
            ),
            ApiError::UnreadableBody => {
                Response::error(400, "bad_body", "the request body could not be read")
            }
            ApiError::NotConfigured(e) => {
                Response::json(500, not_configured(&e)).with_log(format!("configuration: {e}"))
            }
            ApiError::Storage(KvError::Corrupt(what)) => Response::error(
                500,
                "unreadable_record",
                "a stored record of this person cannot be read: nothing is sent to them until it is repaired",
            )
            .with_log(format!("unreadable {what} record")),
            ApiError::Storage(e) => Response::error(
                500,
                "storage_unavailable",
                "storage is unavailable, retry later",
            )
            .with_log(format!("kv error: {e}")),
            ApiError::Signature(e) => {
                let status = if e == SignatureError::Missing {
                    401
                } else {
                    403
                };
                Response::error(status, e.code(), "signature verification failed")
                    .with_log(format!("rejected: {}", e.code()))
            }
            ApiError::HandshakeRefused => Response::error(403, "forbidden", "verification failed")
                .with_log("handshake refused".into()),
            ApiError::Unauthorized => {
                Response::error(401, "unauthorized", "a valid bearer token is required")
            }
            ApiError::TooManyFailures => Response::error(
                429,
                "too_many_failures",
                "too many requests without a valid bearer token from this client; wait a minute",
            )
            .with_log("credential failures over the limit".into()),
            ApiError::Forbidden => Response::error(
                403,
                "forbidden",
                "this token may not do this (SEND_TOKEN only sends, VIEWER_TOKEN only reads); use ADMIN_TOKEN",
            ),
            ApiError::CsrfRefused => Response::error(
                403,
                "csrf_token_invalid",
                "a console request that changes something carries its session's X-CSRF-Token",
            ),
            ApiError::BadRequest { code, message } => Response::error(400, code, message),
            ApiError::OptedOut { scope } => Response::json(
                409,
                json!({"error": "opted_out", "scope": scope, "message": "the contact has opted out"}),
            ),
            ApiError::WindowClosed => Response::json(
                422,
                json!({"error": "window_closed", "message": "free-form messages need a user message in the last 24 hours; send a template"}),
            ),
            ApiError::Undeliverable { code } => {
                Response::json(
                    409,
                    json!({"error": "undeliverable", "code": code}),
                )
            }
            ApiError::PairRateLimited {
                retry_after_seconds,
            } => Response::json(
                429,
                json!({"error": "pair_rate_limited", "retry_after_seconds": retry_after_seconds}),
            ),
            ApiError::SendingStopped => Response::error(
                409,
                "sending_stopped",
                "every send is stopped; resume with DELETE /v1/account/pause",
            ),
            ApiError::NumberPaused => Response::json(
                429,
                json!({"error": "number_paused", "code": 131048u64, "message": "sending is paused after Meta's spam rate limit; resume with DELETE /v1/account/pause"}),
            ),
            ApiError::MarketingCapped => Response::error(
                429,
                "marketing_limit",
                "this person got their marketing templates for the last 24 hours (MARKETING_PER_DAY)",
            ),
            ApiError::RampBudgetUsed => Response::error(
                429,
                "ramp_budget_used",
                "the number's daily budget of business-initiated messages is used (RAMP_DAILY_LIMIT)",
            ),
            ApiError::MarketingPaused => Response::error(
                409,
                "marketing_paused",
                "Meta reported the number's quality or a restriction; resume with DELETE /v1/account/pause",
            ),
            ApiError::IdentityUnresolved => Response::error(
                503,
                "identity_unresolved",
                "this person's ids are being linked; retry in a few seconds",
            ),
            ApiError::Graph {
                action,
                meta_code,
                http_status,
                ..
            } => graph_failure(action, meta_code, http_status),
        }
    }
}

/// A handler's result as the answer.
pub fn answer(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(Response::from)
}
