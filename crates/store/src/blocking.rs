//! Driving the async API from synchronous code.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the current thread.
///
/// This is all a synchronous host needs to call a [`crate::Store`]: the
/// embedded backends complete at once, the `object_store` adapter's futures
/// wake this thread when its own runtime finishes the I/O. Like every
/// `block_on`, calling it from inside an async task blocks that task's thread.
///
/// ```
/// assert_eq!(blocksmith_store::block_on(async { 40 + 2 }), 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_from_another_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f2 = flag.clone();
        let h = thread::spawn(move || {
            let w = rx.recv().unwrap();
            f2.store(true, std::sync::atomic::Ordering::SeqCst);
            w.wake();
        });
        let mut sent = Some(tx);
        let out = block_on(std::future::poll_fn(|cx| {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                Poll::Ready(7)
            } else {
                if let Some(tx) = sent.take() {
                    tx.send(cx.waker().clone()).unwrap();
                }
                Poll::Pending
            }
        }));
        assert_eq!(out, 7);
        h.join().unwrap();
    }
}
