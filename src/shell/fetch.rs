//! One POST through the runtime's global `fetch`, called directly and its answer read as text in
//! one call. workers-rs's `Fetch` builds its
//! request through serde-wasm-bindgen (with float formatting and its own copy of serde) and
//! reads answers as a stream, chunk by chunk: a profile showed the stream reader's calls as
//! about a tenth of a known contact's CPU.

use super::runtime::call_method;
use wasm_bindgen::{JsCast, JsValue};

/// POSTs `body` to `url` with `headers`; the status and the answer's text. The error is a fixed
/// word: a URL or a header may hold a secret.
pub(super) async fn post_text(
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), &'static str> {
    let init = js_sys::Object::new();
    let set = |on: &js_sys::Object, k: &str, v: &JsValue| {
        js_sys::Reflect::set(on, &JsValue::from_str(k), v).map_err(|_| "request")
    };
    set(&init, "method", &JsValue::from_str("POST"))?;
    set(&init, "body", &JsValue::from_str(body))?;
    if !headers.is_empty() {
        let given = js_sys::Object::new();
        for (name, value) in headers {
            set(&given, name, &JsValue::from_str(value))?;
        }
        set(&init, "headers", &given)?;
    }
    let response: web_sys::Response = call_method(
        &js_sys::global(),
        "fetch",
        &[&JsValue::from_str(url), &init],
    )
    .await
    .map_err(|_| "unreachable")?
    .unchecked_into();
    let text = call_method(&response, "text", &[])
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or("unreadable")?;
    Ok((response.status(), text))
}
