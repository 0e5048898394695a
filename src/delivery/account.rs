//! Account-level events (template status and quality, phone quality, account updates and
//! alerts, webhook errors) become account signals, shown by `GET /v1/account`.

use crate::store::account::{Signal, SignalKind};
use crate::time::UnixTime;
use crate::webhook::Event;
use serde_json::json;

/// The signal an event raises; `None` for events that are not account-level. Each signal's
/// identity is what makes a redelivery land on the same key.
pub fn signal_of(event: &Event, when: impl Fn(Option<UnixTime>) -> UnixTime) -> Option<Signal> {
    let num =
        |n: &Option<serde_json::Number>| n.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    let (kind, identity, at, fields) = match event {
        Event::TemplateStatus { update: u, at } => {
            let id = num(&u.message_template_id);
            let fields = json!({"template_id":id,"name":u.message_template_name,"language":u.message_template_language,"event":u.event,"reason":u.reason});
            let identity = vec![id, text(&u.message_template_name)];
            (SignalKind::TemplateStatus, identity, when(*at), fields)
        }
        Event::TemplateQuality { update: u, at } => {
            let id = num(&u.message_template_id);
            let fields = json!({"template_id":id,"name":u.message_template_name,"language":u.message_template_language,"previous":u.previous_quality_score,"new":u.new_quality_score});
            (SignalKind::TemplateQuality, vec![id], when(*at), fields)
        }
        Event::PhoneQuality { update: u, at } => {
            let fields = json!({"display_phone_number":u.display_phone_number,"event":u.event,"messaging_limit":u.current_limit});
            let identity = vec![text(&u.display_phone_number)];
            (SignalKind::PhoneQuality, identity, when(*at), fields)
        }
        Event::AccountUpdate { update: u, at } => {
            let at = when(*at);
            let fields = json!({"event":u.event,"ban_state":u.ban_info.as_ref().and_then(|b| b.waba_ban_state.clone()),"violation":u.violation_info.as_ref().and_then(|v| v.violation_type.clone())});
            let identity = vec![text(&u.event), at.0.to_string()];
            (SignalKind::AccountUpdate, identity, at, fields)
        }
        Event::AccountAlert { alert, at } => {
            let at = when(*at);
            let info = alert.alert_info.clone().unwrap_or_default();
            let fields = json!({"entity_type":alert.entity_type,"entity_id":alert.entity_id,"severity":info.alert_severity,"status":info.alert_status,"type":info.alert_type,"description":info.alert_description});
            let identity = vec![text(&info.alert_type), at.0.to_string()];
            (SignalKind::AccountAlert, identity, at, fields)
        }
        Event::Error {
            error,
            at,
            phone_number_id,
        } => {
            let at = when(*at);
            let fields =
                json!({"code":error.code,"title":error.title,"phone_number_id":phone_number_id});
            let identity = vec![error.code.to_string(), at.0.to_string()];
            (SignalKind::Error, identity, at, fields)
        }
        _ => return None,
    };
    Some(Signal {
        kind,
        identity,
        at,
        fields,
    })
}
