//! Every task of a world, so that shutdown ends all of them (listeners and connections alike)
//! and frees the ports before `World::shutdown` returns.

use std::future::Future;
use std::sync::Mutex;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A set of tasks that can be stopped together.
pub(crate) struct Tasks {
    set: Mutex<Option<JoinSet<()>>>,
    stop: watch::Sender<bool>,
}

impl Tasks {
    pub(crate) fn new() -> Tasks {
        Tasks {
            set: Mutex::new(Some(JoinSet::new())),
            stop: watch::Sender::new(false),
        }
    }

    /// Spawns `fut`, which ends early when the world stops. After stop, nothing is spawned.
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let mut rx = self.stop.subscribe();
        let wrapped = async move {
            tokio::select! {
                _ = fut => {}
                _ = rx.wait_for(|stopped| *stopped) => {}
            }
        };
        if let Ok(mut guard) = self.set.lock() {
            if let Some(set) = guard.as_mut() {
                // Reap finished connection tasks so a long-lived world does not accumulate them.
                while set.try_join_next().is_some() {}
                set.spawn(wrapped);
            }
        }
    }

    /// Stops every task and waits until they are gone.
    pub(crate) async fn stop(&self) {
        self.stop.send_replace(true);
        let set = self.set.lock().ok().and_then(|mut g| g.take());
        if let Some(mut set) = set {
            set.abort_all();
            while set.join_next().await.is_some() {}
        }
    }

    /// Stops without waiting (for `Drop`): aborting happens when the set is dropped.
    pub(crate) fn abort(&self) {
        self.stop.send_replace(true);
        drop(self.set.lock().ok().and_then(|mut g| g.take()));
    }
}
