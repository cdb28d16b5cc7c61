//! The blocking mode, for a discrete-event simulation on a virtual clock.
//!
//! A simulated night's time moves only when every task waits on the clock.
//! A database call must then be over within the step that makes it: were it
//! awaited, the simulation's runtime would see nothing to do and move time
//! on, or run another agent meanwhile, and the night would depend on how fast
//! the disk answered. In this mode each call runs to its end on the calling
//! thread. The pool's own tasks (returning connections, its timers) run on a
//! small runtime of their own, on a thread of its own, in real time.

use std::cell::Cell;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

thread_local! {
    /// Set while a call runs to its end on this thread.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current call runs in the blocking mode: nothing can cancel it
/// halfway, so it needs no task of its own to be safe from cancellation.
pub(crate) fn active() -> bool {
    ACTIVE.with(Cell::get)
}

/// The pool's runtime; it stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Blocking {
    handle: tokio::runtime::Handle,
    _stop: Arc<Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
}

impl Blocking {
    pub(crate) fn start() -> std::io::Result<Self> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new().name("ferros-db".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => {
                    let _ = handle_tx.send(Ok(rt.handle().clone()));
                    // Until every handle is gone.
                    rt.block_on(async {
                        let _ = stopped.await;
                    });
                }
                Err(e) => {
                    let _ = handle_tx.send(Err(e));
                }
            }
        })?;
        let handle = handle_rx.recv().map_err(std::io::Error::other)??;
        Ok(Self { handle, _stop: Arc::new(Mutex::new(Some(stop))) })
    }

    /// Runs `f` to its end on this thread, the pool's tasks on its runtime.
    pub(crate) fn run<F: Future>(&self, f: F) -> F::Output {
        let _entered = self.handle.enter();
        let _active = Active(ACTIVE.with(|a| a.replace(true)));
        // Outside tokio's cooperative budget: the calling task's budget, once
        // spent, would defer a wake-up to its runtime, which this thread holds.
        block_on(tokio::task::unconstrained(f))
    }
}

/// Puts back the flag as it was when a call ends (or panics).
struct Active(bool);

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.0));
    }
}

/// Wakes the thread that waits in [`block_on`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `f` until it is ready, parking the thread in between.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
