//! `GET /openapi.json`: the OpenAPI 3.1 description of the whole HTTP API (`api/openapi.json`),
//! checked against the routes by a test, so a route cannot go undocumented.

use crate::http::response::Response;

pub const DOCUMENT: &str = include_str!("../../api/openapi.json");

pub fn document() -> Response {
    Response::body(200, "application/json", DOCUMENT.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{route, Route};

    /// The documented path of each route. Exhaustive: a new route does not compile until it
    /// is documented here, and the test below checks the document has it.
    fn documented(route: &Route) -> Option<&'static str> {
        Some(match route {
            Route::Health => "/healthz",
            Route::OpenApi => "/openapi.json",
            Route::WebhookVerify | Route::WebhookDelivery => "/webhook",
            Route::GraphMessages { .. } => "/{version}/{phone_number_id}/messages",
            Route::SendMessage => "/v1/messages",
            Route::EraseContact(_) => "/v1/contacts/{id}",
            Route::ContactMessages(_) => "/v1/contacts/{id}/messages",
            Route::ContactOutbox(_) => "/v1/contacts/{id}/outbox",
            Route::GetConsent(_) | Route::PutConsent(_) => "/v1/contacts/{id}/consent",
            Route::Lookup => "/v1/contacts/lookup",
            Route::ConsentByBody => "/v1/contacts/consent",
            Route::EraseByBody => "/v1/contacts/erase",
            Route::ConsentCheck => "/v1/consent/check",
            Route::Account => "/v1/account",
            Route::ResumeSending | Route::StopSending => "/v1/account/pause",
            Route::ConsentOverview => "/v1/consent/overview",
            Route::ConsentExport => "/v1/consent/export",
            Route::Console => "/console",
            Route::ConsoleAsset(_) => "/console/{file}",
            Route::SessionStart | Route::SessionShow => "/console/session",
            Route::SessionEnd => "/console/session/end",
            Route::MethodNotAllowed(_) | Route::NotFound => return None,
        })
    }

    #[test]
    fn every_documented_operation_is_a_route_and_every_route_is_documented() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for (path, operations) in paths {
            let sample = path
                .replace("{version}", "v24.0")
                .replace("{phone_number_id}", "106540352242922")
                .replace("{id}", "15551234567")
                .replace("{file}", "console.js");
            for method in operations.as_object().unwrap().keys() {
                let method = method.to_ascii_uppercase();
                let routed = route(&method, &sample);
                assert_eq!(
                    documented(&routed),
                    Some(path.as_str()),
                    "{method} {path} is documented but routes to {routed:?}"
                );
                seen.insert(format!("{routed:?}"));
            }
        }
        // Every route, by one request each: documented under its own path and method.
        let every_route = [
            ("GET", "/healthz"),
            ("GET", "/openapi.json"),
            ("GET", "/webhook"),
            ("POST", "/webhook"),
            ("POST", "/v24.0/1/messages"),
            ("POST", "/v1/messages"),
            ("DELETE", "/v1/contacts/1"),
            ("GET", "/v1/contacts/1/messages"),
            ("GET", "/v1/contacts/1/outbox"),
            ("GET", "/v1/contacts/1/consent"),
            ("PUT", "/v1/contacts/1/consent"),
            ("POST", "/v1/contacts/lookup"),
            ("POST", "/v1/contacts/consent"),
            ("POST", "/v1/contacts/erase"),
            ("POST", "/v1/consent/check"),
            ("GET", "/v1/account"),
            ("GET", "/v1/consent/overview"),
            ("GET", "/v1/consent/export"),
            ("GET", "/console"),
            ("GET", "/console/console.js"),
            ("GET", "/console/session"),
            ("POST", "/console/session"),
            ("POST", "/console/session/end"),
            ("DELETE", "/v1/account/pause"),
            ("PUT", "/v1/account/pause"),
        ];
        for (method, path) in every_route {
            let routed = route(method, path);
            let documented_path = documented(&routed).unwrap();
            let operation = &doc["paths"][documented_path][method.to_ascii_lowercase()];
            assert!(operation.is_object(), "{method} {path} is not documented");
        }
        assert_eq!(seen.len(), every_route.len(), "{seen:?}");
    }
}
