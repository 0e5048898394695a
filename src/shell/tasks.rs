//! Runs the worker's futures: one task per call from the runtime (a request, a remote call, an
//! alarm), each answered by the promise the call returns, and awaits the runtime's promises
//! (`settle`).
//!
//! A task is polled at once when it starts, and again when a promise it awaits settles
//! (`settle`), from that promise's own callback. wasm-bindgen-futures, which this
//! replaces, made two closures per call and queued a microtask (a crossing into JavaScript and
//! back) for every wake.

use crate::settling::{Slots, Ticket};
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
        tasks.get_mut(id)?.as_mut()?.work.take()
    });
    let Some(mut work) = taken else {
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
            let done = TASKS.with(|tasks| tasks.borrow_mut().get_mut(id)?.take());
            // The task's state goes before its promise settles.
            drop(work);
            if let Some(task) = done {
                let _ = match result {
                    Ok(value) => task.resolve.call1(&JsValue::UNDEFINED, &value),
                    Err(error) => task.reject.call1(&JsValue::UNDEFINED, &error),
                };
            }
        }
    }
}

/// Awaits a value that may be a promise.
///
/// wasm-bindgen-futures' `JsFuture` makes two closures per promise (each a JavaScript function
/// registered for finalization, and released after); here every promise reports to one callback
/// made once per instance, with its ticket (`settling`), where its future finds the result, and
/// the callback polls the waiting task at once. A known contact's text awaits about a dozen
/// promises; this took its CPU from 0.83x to 0.75x of the previous build's (memory runs).
pub fn settle(value: JsValue) -> Settle {
    let ticket = SETTLING.with(|slots| slots.borrow_mut().open());
    ON_SETTLED.with(|callback| {
        settle_into(
            &value,
            ticket.index as u32,
            ticket.generation,
            callback.as_ref(),
        )
    });
    Settle { ticket }
}

thread_local! {
    static SETTLING: RefCell<Slots<Result<JsValue, JsValue>>> = const { RefCell::new(Slots::new()) };
    /// One callback for every promise awaited, made once per instance.
    static ON_SETTLED: Closure<dyn FnMut(u32, u32, bool, JsValue)> = Closure::new(on_settled);
}

fn on_settled(index: u32, generation: u32, ok: bool, value: JsValue) {
    let ticket = Ticket {
        index: index as usize,
        generation,
    };
    let result = if ok { Ok(value) } else { Err(value) };
    // The borrow ends before the wake, which polls the task (and may await again).
    let waker = SETTLING.with(|slots| slots.borrow_mut().arrive(ticket, result));
    if let Some(waker) = waker {
        waker.wake();
    }
}

#[wasm_bindgen(
    inline_js = "export function settle_into(value, index, generation, done) { Promise.resolve(value).then((v) => done(index, generation, true, v), (e) => done(index, generation, false, e)); }"
)]
extern "C" {
    fn settle_into(value: &JsValue, index: u32, generation: u32, done: &JsValue);
}

/// A promise being awaited (`settle`).
pub struct Settle {
    ticket: Ticket,
}

impl Future for Settle {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let taken = SETTLING.with(|slots| slots.borrow_mut().take(self.ticket, cx.waker()));
        match taken {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        // After its result was taken the ticket matches nothing: this changes nothing then.
        SETTLING.with(|slots| slots.borrow_mut().abandon(self.ticket));
    }
}
