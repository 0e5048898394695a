//! Runs the worker's futures: one task per call from the runtime (a request, a remote call, an
//! alarm), each answered by the promise the call returns, and awaits the runtime's promises
//! (`settle`).
//!
//! A task is polled at once when it starts, and again when a promise it awaits settles
//! (`runtime::settle`), from that promise's own callback. wasm-bindgen-futures, which this
//! replaces, made two closures per call and queued a microtask (a crossing into JavaScript and
//! back) for every wake.

use js_sys::{Function, Promise};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use wasm_bindgen::prelude::*;

type Work = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

struct Task {
    /// Out of its slot while it is being polled.
    work: Option<Work>,
    resolve: Function,
    reject: Function,
}

thread_local! {
    static TASKS: RefCell<Vec<Option<Task>>> = const { RefCell::new(Vec::new()) };
    /// Tasks woken and not yet polled, in the order woken.
    static READY: RefCell<VecDeque<usize>> = const { RefCell::new(VecDeque::new()) };
    /// A task is being polled: a wake meanwhile is queued, and polled by the loop already running.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// Starts `work` as a task and gives the promise of its result.
pub fn spawn<F>(work: F) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let mut settlers = None;
    let promise = Promise::new(&mut |resolve, reject| settlers = Some((resolve, reject)));
    let Some((resolve, reject)) = settlers else {
        return promise;
    };
    let task = Task {
        work: Some(Box::pin(work)),
        resolve,
        reject,
    };
    let id = TASKS.with(|tasks| {
        let mut tasks = tasks.borrow_mut();
        match tasks.iter().position(Option::is_none) {
            Some(free) => {
                if let Some(slot) = tasks.get_mut(free) {
                    *slot = Some(task);
                }
                free
            }
            None => {
                tasks.push(Some(task));
                tasks.len() - 1
            }
        }
    });
    wake(id);
    promise
}

/// A task's waker: wakes it by its slot. A stale one (its task done, the slot reused) polls
/// another task once for nothing, which a future allows.
struct TaskWaker(usize);

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        wake(self.0);
    }
}

fn wake(id: usize) {
    READY.with(|ready| {
        let mut ready = ready.borrow_mut();
        if !ready.contains(&id) {
            ready.push_back(id);
        }
    });
    if RUNNING.with(|running| running.replace(true)) {
        return;
    }
    while let Some(id) = READY.with(|ready| ready.borrow_mut().pop_front()) {
        poll(id);
    }
    RUNNING.with(|running| running.set(false));
}

fn poll(id: usize) {
    let taken = TASKS.with(|tasks| {
        let mut tasks = tasks.borrow_mut();
        let task = tasks.get_mut(id)?.as_mut()?;
        Some((task.work.take()?, task.resolve.clone(), task.reject.clone()))
    });
    let Some((mut work, resolve, reject)) = taken else {
        return;
    };
    let waker = Waker::from(Arc::new(TaskWaker(id)));
    let outcome = work.as_mut().poll(&mut Context::from_waker(&waker));
    match outcome {
        Poll::Pending => TASKS.with(|tasks| {
            if let Some(Some(task)) = tasks.borrow_mut().get_mut(id) {
                task.work = Some(work);
            }
        }),
        Poll::Ready(result) => {
            TASKS.with(|tasks| {
                if let Some(slot) = tasks.borrow_mut().get_mut(id) {
                    *slot = None;
                }
            });
            // The task's state goes before its promise settles.
            drop(work);
            let _ = match result {
                Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
                Err(error) => reject.call1(&JsValue::UNDEFINED, &error),
            };
        }
    }
}

/// Awaits a value that may be a promise.
///
/// wasm-bindgen-futures' `JsFuture` makes two closures per promise (each a JavaScript function
/// registered for finalization, and released after); here every promise reports to one callback
/// made once per instance, with the number of its slot, where its future finds the result, and
/// the callback polls the waiting task at once (`tasks`). A known contact's text awaits about a
/// dozen promises; this took its CPU from 0.83x to 0.75x of the previous build's (memory runs).
pub fn settle(value: JsValue) -> Settle {
    let id = SETTLING.with(|s| {
        let mut slots = s.borrow_mut();
        match slots.iter().position(|slot| matches!(slot, Slot::Free)) {
            Some(free) => {
                if let Some(slot) = slots.get_mut(free) {
                    *slot = Slot::Waiting(None);
                }
                free
            }
            None => {
                slots.push(Slot::Waiting(None));
                slots.len() - 1
            }
        }
    });
    ON_SETTLED.with(|callback| settle_into(&value, id as u32, callback.as_ref()));
    Settle { id, done: false }
}

enum Slot {
    Free,
    Waiting(Option<std::task::Waker>),
    Done(Result<JsValue, JsValue>),
    /// Its future was dropped before the promise settled: freed when it does.
    Abandoned,
}

thread_local! {
    static SETTLING: std::cell::RefCell<Vec<Slot>> = const { std::cell::RefCell::new(Vec::new()) };
    /// One callback for every promise awaited, made once per instance.
    static ON_SETTLED: Closure<dyn FnMut(u32, bool, JsValue)> = Closure::new(on_settled);
}

fn on_settled(id: u32, ok: bool, value: JsValue) {
    let waker = SETTLING.with(|s| {
        let mut slots = s.borrow_mut();
        let slot = slots.get_mut(id as usize)?;
        let result = if ok { Ok(value) } else { Err(value) };
        match std::mem::replace(slot, Slot::Done(result)) {
            Slot::Waiting(waker) => waker,
            _ => {
                *slot = Slot::Free;
                None
            }
        }
    });
    if let Some(waker) = waker {
        waker.wake();
    }
}

#[wasm_bindgen(
    inline_js = "export function settle_into(value, id, done) { Promise.resolve(value).then((v) => done(id, true, v), (e) => done(id, false, e)); }"
)]
extern "C" {
    fn settle_into(value: &JsValue, id: u32, done: &JsValue);
}

/// A promise being awaited (`settle`).
pub struct Settle {
    id: usize,
    /// Its slot was freed when it gave its result (and may serve another promise since).
    done: bool,
}

impl std::future::Future for Settle {
    type Output = Result<JsValue, JsValue>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.get_mut();
        SETTLING.with(|s| {
            let mut slots = s.borrow_mut();
            let Some(slot) = slots.get_mut(this.id) else {
                return std::task::Poll::Ready(Err(JsValue::UNDEFINED));
            };
            match std::mem::replace(slot, Slot::Free) {
                Slot::Done(result) => {
                    this.done = true;
                    std::task::Poll::Ready(result)
                }
                _ => {
                    *slot = Slot::Waiting(Some(cx.waker().clone()));
                    std::task::Poll::Pending
                }
            }
        })
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        SETTLING.with(|s| {
            if let Some(slot) = s.borrow_mut().get_mut(self.id) {
                if matches!(slot, Slot::Waiting(_)) {
                    *slot = Slot::Abandoned;
                }
            }
        });
    }
}
