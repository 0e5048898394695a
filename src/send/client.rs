//! One send with the retry policy of `policy::meta_errors`: waits for the pair rate and
//! throttling when patient (after the response), one retry of a transient error, and never a
//! retry after no answer, because a send has no idempotency key and may have gone out.

use crate::ids::MessageId;
use crate::platform::Platform;
use crate::policy::meta_errors::{
    classify, ErrorAction, PAIR_RATE_WAITS_MS, THROTTLE_WAIT_MS, TRANSIENT_WAIT_MS,
};
use crate::send::graph::{parse_send_response, request_body, GraphError};
use crate::send::{Outbound, Purpose};

#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Sent(MessageId),
    Failed {
        action: ErrorAction,
        error: GraphError,
    },
}

/// Sends one message. `patient` allows waits (after the response, inside `wait_until`); the
/// synchronous send API answers the caller instead of waiting.
pub async fn send<G: Platform>(
    graph: &G,
    url: &str,
    token: &str,
    outbound: &Outbound,
    patient: bool,
    jitter_ms: u64,
) -> SendOutcome {
    let body = request_body(&outbound.to, &outbound.body, outbound.reply_to.as_ref()).to_string();
    let mut pair_waits = PAIR_RATE_WAITS_MS.iter();
    let mut throttled = false;
    let mut transient_retried = false;
    loop {
        let error = match graph.post(url, token, &body).await {
            Ok((status, text)) => match parse_send_response(status, &text) {
                Ok(id) => return SendOutcome::Sent(id),
                // Mark-as-read answers {"success":true} with no message id.
                Err(e)
                    if outbound.purpose == Purpose::MarkRead
                        && (200..300).contains(&e.http_status) =>
                {
                    return SendOutcome::Sent(MessageId::new(""));
                }
                Err(e) => e,
            },
            Err(_) => GraphError {
                http_status: 0,
                code: None,
                title: Some("no answer".into()),
            },
        };
        let action = classify(error.code, error.http_status);
        let wait = match action {
            ErrorAction::PairRateLimited if patient => pair_waits.next().copied(),
            ErrorAction::Throttled if patient && !throttled => {
                throttled = true;
                Some(THROTTLE_WAIT_MS + jitter_ms % 1000)
            }
            ErrorAction::Transient if !transient_retried => {
                transient_retried = true;
                Some(TRANSIENT_WAIT_MS)
            }
            _ => None,
        };
        match wait {
            Some(ms) => graph.sleep(ms).await,
            None => return SendOutcome::Failed { action, error },
        }
    }
}
