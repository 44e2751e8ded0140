//! One message at a time per name. Per source object, so two announcements
//! of the same upload (a notification and an app's message) convert once:
//! held from before a message takes one of the worker's permits, so copies
//! of one message wait without a permit and cannot starve other work. Per
//! cache entry, so copies of one document under other names wait for its
//! first PDF (`cache`).
//!
//! Async locks by name, dropped from the map when nobody holds them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct ObjectLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

pub struct ObjectGuard<'a> {
    locks: &'a ObjectLocks,
    name: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl ObjectLocks {
    pub async fn lock(&self, name: String) -> ObjectGuard<'_> {
        let lock = self
            .0
            .lock()
            .expect("object locks")
            .entry(name.clone())
            .or_default()
            .clone();
        ObjectGuard {
            locks: self,
            name,
            guard: Some(lock.lock_owned().await),
        }
    }
}

impl Drop for ObjectGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.0.lock().expect("object locks");
        // Only the map holds it now: nobody waits on this object.
        if map
            .get(&self.name)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            map.remove(&self.name);
        }
    }
}
