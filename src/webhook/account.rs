//! Account-level fields: templates, quality, account updates and alerts, and Meta's own
//! marketing opt-out (`user_preferences`).

use super::lenient::open_enum;
use crate::ids::WaId;
use crate::json::{from_json, Number};
use crate::time::{MetaTimeField, UnixTime};

open_enum!(
    /// `user_preferences[].value`.
    PreferenceValue { Stop = "stop", Resume = "resume" }
);

#[derive(Debug, Clone, PartialEq)]
pub struct UserPreference {
    pub wa_id: Option<WaId>,
    pub user_id: Option<WaId>,
    pub parent_user_id: Option<WaId>,
    pub category: Option<String>,
    pub value: Option<PreferenceValue>,
    pub timestamp: Option<UnixTime>,
}

from_json!(UserPreference {
    wa_id: opt,
    user_id: opt,
    parent_user_id: opt,
    category: opt,
    value: opt,
    timestamp: meta_time,
});
from_json!(TemplateStatusUpdate {
    event: opt,
    message_template_id: opt,
    message_template_name: opt,
    message_template_language: opt,
    reason: opt,
    message_template_category: opt,
});
from_json!(TemplateCategoryUpdate {
    message_template_id: opt,
    message_template_name: opt,
    message_template_language: opt,
    previous_category: opt,
    new_category: opt,
});
from_json!(TemplateQualityUpdate {
    previous_quality_score: opt,
    new_quality_score: opt,
    message_template_id: opt,
    message_template_name: opt,
    message_template_language: opt,
});
from_json!(PhoneQualityUpdate {
    display_phone_number: opt,
    event: opt,
    current_limit: opt,
});
from_json!(BanInfo {
    waba_ban_state: opt,
    waba_ban_date: opt,
});
from_json!(ViolationInfo {
    violation_type: opt
});
from_json!(AccountUpdate {
    phone_number: opt,
    event: opt,
    ban_info: opt,
    violation_info: opt,
});
from_json!(AlertInfo {
    alert_severity: opt,
    alert_status: opt,
    alert_type: opt,
    alert_description: opt,
});
from_json!(AccountAlert {
    entity_type: opt,
    entity_id: opt,
    alert_info: opt,
});

impl UserPreference {
    pub fn contact(&self) -> Option<&WaId> {
        self.wa_id
            .as_ref()
            .or(self.user_id.as_ref())
            .or(self.parent_user_id.as_ref())
    }

    pub fn own_ids(&self) -> Vec<&WaId> {
        [&self.wa_id, &self.user_id, &self.parent_user_id]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// `message_template_status_update`: APPROVED, REJECTED, PAUSED, DISABLED, … kept as text
/// because Meta adds events over time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateStatusUpdate {
    pub event: Option<String>,
    pub message_template_id: Option<Number>,
    pub message_template_name: Option<String>,
    pub message_template_language: Option<String>,
    pub reason: Option<String>,
    /// Sent by newer API versions; the send gateway learns the template's category from it.
    pub message_template_category: Option<String>,
}

/// `template_category_update`: Meta (re)categorised a template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateCategoryUpdate {
    pub message_template_id: Option<Number>,
    pub message_template_name: Option<String>,
    pub message_template_language: Option<String>,
    pub previous_category: Option<String>,
    pub new_category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateQualityUpdate {
    pub previous_quality_score: Option<String>,
    pub new_quality_score: Option<String>,
    pub message_template_id: Option<Number>,
    pub message_template_name: Option<String>,
    pub message_template_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PhoneQualityUpdate {
    pub display_phone_number: Option<String>,
    /// FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE, …
    pub event: Option<String>,
    /// The messaging limit tier, e.g. TIER_1K.
    pub current_limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BanInfo {
    pub waba_ban_state: Option<String>,
    pub waba_ban_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ViolationInfo {
    pub violation_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountUpdate {
    pub phone_number: Option<String>,
    pub event: Option<String>,
    pub ban_info: Option<BanInfo>,
    pub violation_info: Option<ViolationInfo>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertInfo {
    pub alert_severity: Option<String>,
    pub alert_status: Option<String>,
    pub alert_type: Option<String>,
    pub alert_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountAlert {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub alert_info: Option<AlertInfo>,
}

open_enum!(
    /// `changes[].field`.
    Field {
        Messages = "messages",
        UserPreferences = "user_preferences",
        TemplateStatus = "message_template_status_update",
        TemplateCategory = "template_category_update",
        TemplateQuality = "message_template_quality_update",
        PhoneQuality = "phone_number_quality_update",
        AccountUpdate = "account_update",
        AccountAlerts = "account_alerts",
    }
);
