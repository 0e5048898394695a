//! The Workers runtime as this worker uses it, bound directly with wasm-bindgen: the module's
//! start and its recovery after a crash, the environment, the console, timers, a request's body
//! and a response.
//!
//! workers-rs's `worker` crate wrapped each of these, and its wrappers cost on every request
//! (issue 13): its request conversion read the URL, method and headers of each request the
//! worker and its objects served, its Durable Object macro exported WebSocket and socket handlers
//! this worker has none of, and its exports came with classes for R2, containers and minification.
//! It stays in Cargo.lock only because worker-build checks for it; nothing links it.

pub use super::tasks::settle;
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The global object worker-build's shim reads to tell that the module crashed (`criticalError`)
/// and to rebuild its objects on a new instance (`instanceId`); the name is the shim's.
const INIT_STATE: &str = "__worker_init_state";

fn init_state() -> JsValue {
    let global = js_sys::global();
    let key = JsValue::from_str(INIT_STATE);
    match Reflect::get(&global, &key) {
        Ok(state) if state.is_object() => state,
        _ => {
            let state = Object::new();
            set(&state, "criticalError", &JsValue::FALSE);
            set(&state, "instanceId", &JsValue::from_f64(0.0));
            let _ = Reflect::set(&global, &key, &state);
            state.into()
        }
    }
}

fn set(on: &JsValue, key: &str, value: &JsValue) -> bool {
    Reflect::set(on, &JsValue::from_str(key), value).unwrap_or(false)
}

fn get(on: &JsValue, key: &str) -> JsValue {
    Reflect::get(on, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The shim asks for the state once, when it loads.
#[wasm_bindgen(js_name = "__worker_init_state")]
pub fn worker_init_state() -> JsValue {
    init_state()
}

/// Runs when the module is instantiated (again after a crash): a panic is logged and marks the
/// instance as crashed, so the shim starts a fresh one before the next call instead of serving
/// from memory a panic may have left half-written.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        set(&init_state(), "criticalError", &JsValue::TRUE);
    }));
    let state = init_state();
    let id = get(&state, "instanceId").as_f64().unwrap_or(0.0);
    set(&state, "instanceId", &JsValue::from_f64(id + 1.0));
    wasm_bindgen::handler::set_on_abort(wasm_bindgen::handler::schedule_reinit);
}

/// The worker's environment: its vars, secrets and bindings.
pub struct Env(JsValue);

impl Env {
    pub fn new(env: JsValue) -> Env {
        Env(env)
    }

    /// A var or secret (both are strings in the environment).
    pub fn string(&self, name: &str) -> Option<String> {
        get(&self.0, name).as_string()
    }

    /// A binding (KV namespace, Durable Object namespace), if present.
    pub fn binding(&self, name: &str) -> Option<JsValue> {
        let value = get(&self.0, name);
        (value.is_object()).then_some(value)
    }
}

/// A bound method, looked up once: `this.name(...)` without a property read per call.
pub struct Method {
    this: JsValue,
    function: Function,
}

impl Method {
    pub fn of(this: &JsValue, name: &str) -> Option<Method> {
        Some(Method {
            function: get(this, name).dyn_into().ok()?,
            this: this.clone(),
        })
    }

    pub fn call1(&self, a: &JsValue) -> Result<JsValue, JsValue> {
        self.function.call1(&self.this, a)
    }

    pub fn call2(&self, a: &JsValue, b: &JsValue) -> Result<JsValue, JsValue> {
        self.function.call2(&self.this, a, b)
    }

    pub fn call3(&self, a: &JsValue, b: &JsValue, c: &JsValue) -> Result<JsValue, JsValue> {
        self.function.call3(&self.this, a, b, c)
    }
}

/// Calls `this.name(...args)` (at most two arguments) and awaits what it returns.
pub async fn call_method(
    this: &JsValue,
    name: &str,
    args: &[&JsValue],
) -> Result<JsValue, JsValue> {
    let function: Function = get(this, name).dyn_into()?;
    let returned = match args {
        [] => function.call0(this),
        [a] => function.call1(this, a),
        [a, b, ..] => function.call2(this, a, b),
    }?;
    settle(returned).await
}

/// Calls `this.name(...args)` with any number of arguments and awaits what it returns.
pub async fn apply_method(
    this: &JsValue,
    name: &str,
    args: &js_sys::Array,
) -> Result<JsValue, JsValue> {
    let function: Function = get(this, name).dyn_into()?;
    settle(Reflect::apply(&function, this, args)?).await
}

/// Calls `method` of a Durable Object's stub with one text (a remote procedure call) and awaits
/// its answer. Through `Reflect.apply`: a stub's methods are remote, so reading a method's own
/// `call` property (as `Function::call1` does) would name another remote method.
pub async fn call_remote(stub: &JsValue, method: &str, text: &str) -> Result<JsValue, JsValue> {
    let function: Function = get(stub, method).unchecked_into();
    let args = js_sys::Array::of1(&JsValue::from_str(text));
    settle(Reflect::apply(&function, stub, &args)?).await
}

/// A JavaScript error with `message`, for a rejected promise.
pub fn error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// The message of a JavaScript error (or the text thrown), if any.
pub fn error_message(thrown: &JsValue) -> Option<String> {
    thrown
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| thrown.as_string())
}

pub fn log(line: &str) {
    web_sys::console::log_1(&JsValue::from_str(line));
}

pub fn log_error(line: &str) {
    web_sys::console::error_1(&JsValue::from_str(line));
}

/// Resolves after `ms` milliseconds (the runtime's `setTimeout`).
pub async fn sleep(ms: u64) {
    let promise = Promise::new(&mut |resolve, _reject| {
        if let Some(timer) = Method::of(&js_sys::global(), "setTimeout") {
            let _ = timer.call2(&resolve, &JsValue::from_f64(ms as f64));
        } else {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = settle(promise.into()).await;
}

/// Why a body was not read.
pub enum BodyError {
    TooLarge,
    Unreadable,
}

/// A request's body as read: its bytes, and the runtime's buffer they were copied from when it
/// was read whole (the same bytes, for the runtime's own HMAC: `graph`).
#[derive(Default)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub buffer: Option<Uint8Array>,
}

/// A request's body, at most `limit` bytes: read whole when its length is declared (the runtime
/// enforces Content-Length, and the caller has checked it against the cap), else streamed and
/// refused as soon as it passes the cap.
pub async fn read_body(
    req: &web_sys::Request,
    declared: bool,
    limit: usize,
) -> Result<Body, BodyError> {
    let unreadable = |_| BodyError::Unreadable;
    if declared {
        let buffer = call_method(req, "arrayBuffer", &[])
            .await
            .map_err(unreadable)?;
        let buffer = Uint8Array::new(&buffer);
        return Ok(Body {
            bytes: buffer.to_vec(),
            buffer: Some(buffer),
        });
    }
    let stream = get(req, "body");
    if !stream.is_object() {
        return Ok(Body::default());
    }
    let reader = call_method(&stream, "getReader", &[])
        .await
        .map_err(unreadable)?;
    let Some(read) = Method::of(&reader, "read") else {
        return Err(BodyError::Unreadable);
    };
    let mut body = Vec::new();
    loop {
        let returned = read.function.call0(&reader).map_err(unreadable)?;
        let chunk = settle(returned).await.map_err(unreadable)?;
        if get(&chunk, "done").is_truthy() {
            return Ok(Body {
                bytes: body,
                buffer: None,
            });
        }
        let bytes: Uint8Array = get(&chunk, "value").dyn_into().map_err(unreadable)?;
        if body.len() + bytes.length() as usize > limit {
            // Stops the upload: the rest is never read.
            let _ = call_method(&reader, "cancel", &[]).await;
            return Err(BodyError::TooLarge);
        }
        let at = body.len();
        body.resize(at + bytes.length() as usize, 0);
        if let Some(into) = body.get_mut(at..) {
            bytes.copy_to(into);
        }
    }
}

/// A response with `status`, `headers` and a text body, made by the runtime in one call: the
/// headers cross as one text (names and values separated by NUL, which neither may contain).
pub fn response(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<web_sys::Response, JsValue> {
    let mut block = String::new();
    for (name, value) in headers {
        for part in [name, value] {
            if !block.is_empty() {
                block.push('\0');
            }
            block.push_str(part);
        }
    }
    new_response(status, &block, body)
}

#[wasm_bindgen(
    inline_js = "export function new_response(status, block, body) { const headers = {}; if (block) { const parts = block.split('\\0'); for (let i = 0; i + 1 < parts.length; i += 2) headers[parts[i]] = parts[i + 1]; } return new Response(body, { status, headers }); }"
)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn new_response(status: u16, block: &str, body: &str) -> Result<web_sys::Response, JsValue>;
}
