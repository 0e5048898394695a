//! The HTTP answer the shell writes out: status, body, and one log line for the operator.

use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub allow: Option<&'static str>,
    /// Further headers: the console's cookie and security policy, an export's cursor.
    pub headers: Vec<(&'static str, String)>,
    /// One line for the log: counts and codes only, never secrets or personal data.
    pub log: Option<String>,
}

impl Response {
    pub fn json(status: u16, value: impl serde::Serialize) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: crate::serde_ext::to_string(&value),
            allow: None,
            headers: Vec::new(),
            log: None,
        }
    }

    /// `{"error": code, "message": message}`.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        Response::json(status, json!({"error": code, "message": message}))
    }

    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            allow: None,
            headers: Vec::new(),
            log: None,
        }
    }

    /// A body of `content_type` as it is (a page, a script, an export).
    pub fn body(status: u16, content_type: &'static str, body: String) -> Response {
        Response {
            status,
            content_type,
            body,
            allow: None,
            headers: Vec::new(),
            log: None,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }

    pub fn with_log(mut self, log: String) -> Response {
        self.log = Some(log);
        self
    }
}
