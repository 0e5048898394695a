//! Account-level fields: templates, quality, account updates and alerts, and Meta's own
//! marketing opt-out (`user_preferences`).

use super::lenient::open_enum;
use crate::ids::WaId;
use crate::time::UnixTime;
use serde::Deserialize;

open_enum!(
    /// `user_preferences[].value`.
    PreferenceValue { Stop = "stop", Resume = "resume" }
);

#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct UserPreference {
    pub wa_id: Option<WaId>,
    pub user_id: Option<WaId>,
    pub parent_user_id: Option<WaId>,
    pub category: Option<String>,
    pub value: Option<PreferenceValue>,
    #[serde(default, deserialize_with = "crate::serde_ext::meta_time")]
    pub timestamp: Option<UnixTime>,
}

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
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TemplateStatusUpdate {
    pub event: Option<String>,
    pub message_template_id: Option<serde_json::Number>,
    pub message_template_name: Option<String>,
    pub message_template_language: Option<String>,
    pub reason: Option<String>,
    /// Sent by newer API versions; the send gateway learns the template's category from it.
    pub message_template_category: Option<String>,
}

/// `template_category_update`: Meta (re)categorised a template.
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TemplateCategoryUpdate {
    pub message_template_id: Option<serde_json::Number>,
    pub message_template_name: Option<String>,
    pub message_template_language: Option<String>,
    pub previous_category: Option<String>,
    pub new_category: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TemplateQualityUpdate {
    pub previous_quality_score: Option<String>,
    pub new_quality_score: Option<String>,
    pub message_template_id: Option<serde_json::Number>,
    pub message_template_name: Option<String>,
    pub message_template_language: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct PhoneQualityUpdate {
    pub display_phone_number: Option<String>,
    /// FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE, …
    pub event: Option<String>,
    /// The messaging limit tier, e.g. TIER_1K.
    pub current_limit: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct BanInfo {
    pub waba_ban_state: Option<String>,
    pub waba_ban_date: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ViolationInfo {
    pub violation_type: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct AccountUpdate {
    pub phone_number: Option<String>,
    pub event: Option<String>,
    pub ban_info: Option<BanInfo>,
    pub violation_info: Option<ViolationInfo>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct AlertInfo {
    pub alert_severity: Option<String>,
    pub alert_status: Option<String>,
    pub alert_type: Option<String>,
    pub alert_description: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
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
