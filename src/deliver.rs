//! After the 200: what to record once Meta has answered a send.

use crate::consent::{ConsentChange, ConsentStatus, Scope, Source};
use crate::graph::GraphError;
use crate::ids::MessageId;
use crate::ingest::{load_consent, Ctx, Outbound, ERROR_MARKETING_OPT_OUT};
use crate::keys;
use crate::kv::{Kv, KvError};
use crate::records::{Direction, MessageRecord};
use crate::retention::expires_at;
use serde_json::json;

/// Records a sent message in the contact's history, or the consequence of Meta's refusal.
/// Returns a log line with no personal data.
pub async fn record_result<K: Kv>(
    ctx: &Ctx<'_, K>,
    outbound: &Outbound,
    result: Result<MessageId, GraphError>,
) -> Result<String, KvError> {
    let contact = ctx.keys.contact(&outbound.to);
    match result {
        Ok(id) => {
            let record = MessageRecord {
                id: id.clone(),
                direction: Direction::Outbound,
                at: ctx.now,
                kind: "text".into(),
                text: Some(outbound.text.clone()),
                media_id: None,
                mime_type: None,
                filename: None,
                location: None,
                reply_to: outbound.reply_to.clone(),
                profile_name: None,
                phone_number_id: Some(outbound.phone_number_id.clone()),
                action: None,
                purpose: Some(outbound.purpose.as_str().to_string()),
                errors: Vec::new(),
            };
            if let (Some(expires), Ok(value)) = (
                expires_at(ctx.now, ctx.config.retention_days, ctx.now),
                serde_json::to_string(&record),
            ) {
                let key = keys::message_record(&contact, &ctx.keys.message(&id));
                ctx.kv
                    .put(
                        &key,
                        &value,
                        Some(expires),
                        Some(json!({ "t": ctx.now.0, "d": "out" })),
                    )
                    .await?;
            }
            Ok(format!(
                "sent {} to contact {}",
                outbound.purpose.as_str(),
                contact.0
            ))
        }
        Err(error) => {
            if error.code == Some(ERROR_MARKETING_OPT_OUT) {
                let key = keys::consent(&contact);
                let mut record = load_consent(ctx.kv, &key).await?;
                record.apply(ConsentChange {
                    status: ConsentStatus::OptedOut,
                    scope: Scope::Marketing,
                    at: ctx.now,
                    source: Source::SendError,
                    message_id: None,
                    keyword: None,
                    evidence: Some(format!("send error {ERROR_MARKETING_OPT_OUT}")),
                    applied: false,
                });
                let value = serde_json::to_string(&record)
                    .map_err(|_| KvError::Unavailable("encode".into()))?;
                ctx.kv.put(&key, &value, None, None).await?;
            }
            Ok(format!(
                "send of {} to contact {} failed: http {} code {}",
                outbound.purpose.as_str(),
                contact.0,
                error.http_status,
                error
                    .code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "none".into())
            ))
        }
    }
}
