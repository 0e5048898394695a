//! What the runtime provides the core: HTTP to the Graph API, a sleep, and optionally the
//! platform's own HMAC. The shell implements it over fetch, timers and WebCrypto; native tests
//! use fakes.

/// Single-threaded runtime; its futures are !Send, so no Send bound is asked for.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// POSTs JSON with a bearer token; `Err` when no HTTP answer came back.
    async fn post(&self, url: &str, token: &str, body: &str) -> Result<(u16, String), String>;

    async fn sleep(&self, ms: u64);

    /// Verifies an HMAC-SHA256 tag with the platform's native crypto, when that is cheaper than
    /// doing it in Rust (large bodies in wasm). `None`: not offered, the core verifies in Rust.
    async fn hmac_sha256_verify(
        &self,
        _secret: &[u8],
        _body: &[u8],
        _tag: &[u8; 32],
    ) -> Option<bool> {
        None
    }
}

/// A future polled through a pointer, so that its code is a function of its own instead of being
/// inlined into its caller's. V8 compiles a wasm function the first time it is called, whole: a
/// request that takes one branch of a dispatch then compiles that branch, not every route's or
/// every request kind's code inlined into one function (the worker's entry future was 70 KB).
pub fn apart<'a, T>(
    future: impl std::future::Future<Output = T> + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>> {
    Box::pin(future)
}

/// Runs futures together and gives their outputs in the order given (as `futures::join_all`,
/// whose unordered set was 10 KB of the module). A future is polled again only when its own
/// waker fired, so a batch of n writes costs n polls per completion, not n².
pub async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    /// Which children woke since the last poll, and the task to wake.
    struct Woken {
        ready: Mutex<Vec<usize>>,
        parent: Mutex<Option<Waker>>,
    }
    struct Child {
        index: usize,
        woken: Arc<Woken>,
    }
    impl Wake for Child {
        fn wake(self: Arc<Self>) {
            if let Ok(mut ready) = self.woken.ready.lock() {
                ready.push(self.index);
            }
            let parent = self.woken.parent.lock().ok().and_then(|p| p.clone());
            if let Some(parent) = parent {
                parent.wake();
            }
        }
    }

    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let count = pending.len();
    let mut outputs: Vec<Option<F::Output>> = (0..count).map(|_| None).collect();
    let woken = Arc::new(Woken {
        ready: Mutex::new((0..count).collect()),
        parent: Mutex::new(None),
    });
    let wakers: Vec<Waker> = (0..count)
        .map(|index| {
            Waker::from(Arc::new(Child {
                index,
                woken: woken.clone(),
            }))
        })
        .collect();
    let mut left = count;
    std::future::poll_fn(|cx| {
        if let Ok(mut parent) = woken.parent.lock() {
            *parent = Some(cx.waker().clone());
        }
        let ready = woken
            .ready
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for index in ready {
            let (Some(future), Some(slot), Some(waker)) = (
                pending.get_mut(index),
                outputs.get_mut(index),
                wakers.get(index),
            ) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(waker)) {
                *slot = Some(output);
                left -= 1;
            }
        }
        if left == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::future::Future;
    use std::rc::Rc;

    /// A future that is pending until `open` is set, counting its polls.
    struct Gate {
        open: Rc<Cell<bool>>,
        polls: Rc<Cell<u32>>,
        value: u32,
        waker: Rc<std::cell::RefCell<Option<std::task::Waker>>>,
    }
    impl std::future::Future for Gate {
        type Output = u32;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<u32> {
            self.polls.set(self.polls.get() + 1);
            if self.open.get() {
                std::task::Poll::Ready(self.value)
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }

    #[test]
    fn outputs_in_order_and_only_woken_futures_are_polled_again() {
        let gates: Vec<_> = (0..5u32)
            .map(|i| Gate {
                open: Rc::new(Cell::new(i % 2 == 0)),
                polls: Rc::new(Cell::new(0)),
                value: i * 10,
                waker: Rc::new(std::cell::RefCell::new(None)),
            })
            .collect();
        let handles: Vec<_> = gates
            .iter()
            .map(|g| (g.open.clone(), g.polls.clone(), g.waker.clone()))
            .collect();
        let mut all = Box::pin(join_all(gates));
        let noop = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(noop);
        assert!(all.as_mut().poll(&mut cx).is_pending());
        // Open the third gate (index 3) and wake only it: only it is polled again.
        let (open, polls, waker) = &handles[3];
        open.set(true);
        waker.borrow_mut().take().unwrap().wake();
        assert!(all.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 2);
        assert_eq!(
            handles[1].1.get(),
            1,
            "a future nobody woke is not polled again"
        );
        let (open, _, waker) = &handles[1];
        open.set(true);
        waker.borrow_mut().take().unwrap().wake();
        match all.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => assert_eq!(out, [0, 10, 20, 30, 40]),
            std::task::Poll::Pending => panic!("every future was ready"),
        }
        assert!(crate::testing::block_on(join_all(Vec::<Gate>::new())).is_empty());
    }
}
