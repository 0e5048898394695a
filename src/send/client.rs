//! Sending one message: `attempt` makes one request and reads Meta's answer; `send` is the send
//! API's synchronous use of it (one retry of a transient error, no waiting on rate limits: the
//! caller is answered instead). The outbox retries by the table in `policy::meta_errors`.

use crate::ids::MessageId;
use crate::platform::Platform;
use crate::policy::meta_errors::{classify, ErrorAction, TRANSIENT_WAIT_MS};
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

/// One request to the Graph API and what Meta answered.
pub async fn attempt<G: Platform>(
    graph: &G,
    url: &str,
    token: &str,
    outbound: &Outbound,
) -> SendOutcome {
    let callback = outbound
        .callback
        .as_deref()
        .filter(|_| outbound.purpose != Purpose::MarkRead);
    let body = request_body(
        &outbound.to,
        &outbound.body,
        outbound.reply_to.as_ref(),
        callback,
    );
    let error = match graph.post(url, token, &body).await {
        Ok((status, text)) => match parse_send_response(status, &text) {
            Ok(id) => return SendOutcome::Sent(id),
            // Mark-as-read answers {"success":true} with no message id.
            Err(e)
                if outbound.purpose == Purpose::MarkRead && (200..300).contains(&e.http_status) =>
            {
                return SendOutcome::Sent(MessageId::new(""));
            }
            Err(e) => e,
        },
        Err(_) => GraphError::no_answer(),
    };
    SendOutcome::Failed {
        action: classify(error.code, error.http_status),
        error,
    }
}

/// The send API's send: one retry after a transient error, none after no answer (a send has no
/// idempotency key and may have gone out), and rate limits answered, not waited out.
pub async fn send<G: Platform>(
    graph: &G,
    url: &str,
    token: &str,
    outbound: &Outbound,
) -> SendOutcome {
    let first = attempt(graph, url, token, outbound).await;
    match first {
        SendOutcome::Failed {
            action: ErrorAction::Transient,
            ..
        } => {
            graph.sleep(TRANSIENT_WAIT_MS).await;
            attempt(graph, url, token, outbound).await
        }
        other => other,
    }
}
