//! Delivery counts kept by the worker, for subscriptions without a
//! dead-letter policy, where Pub/Sub does not count attempts for us.
//!
//! Push callers choose message ids, so the table is bounded: past its
//! capacity the oldest count is forgotten. A forgotten message starts
//! counting again, which costs at most some extra tries, never a message.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

pub struct Attempts {
    capacity: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    counts: HashMap<String, u32>,
    /// Ids in the order they were first counted, for forgetting the oldest.
    order: VecDeque<String>,
}

impl Attempts {
    pub fn new(capacity: usize) -> Attempts {
        Attempts {
            capacity,
            table: Mutex::new(Table::default()),
        }
    }

    /// Counts one more delivery of `message_id`; its count so far.
    pub fn count(&self, message_id: &str) -> u32 {
        let mut table = self.table.lock().expect("attempts lock");
        if let Some(count) = table.counts.get_mut(message_id) {
            *count += 1;
            return *count;
        }
        while table.order.len() >= self.capacity {
            let Some(oldest) = table.order.pop_front() else {
                break;
            };
            table.counts.remove(&oldest);
        }
        table.order.push_back(message_id.to_string());
        table.counts.insert(message_id.to_string(), 1);
        1
    }

    /// The message is done with: its count goes.
    pub fn forget(&self, message_id: &str) {
        let mut table = self.table.lock().expect("attempts lock");
        if table.counts.remove(message_id).is_some() {
            table.order.retain(|id| id != message_id);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().unwrap().counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_delivery_and_forgets_finished_messages() {
        let attempts = Attempts::new(10);
        assert_eq!(attempts.count("a"), 1);
        assert_eq!(attempts.count("a"), 2);
        assert_eq!(attempts.count("b"), 1);
        attempts.forget("a");
        assert_eq!(attempts.count("a"), 1);
    }

    #[test]
    fn the_table_never_grows_past_its_capacity() {
        let attempts = Attempts::new(3);
        for id in 0..1000 {
            attempts.count(&id.to_string());
        }
        assert_eq!(attempts.len(), 3);
        // The newest are kept.
        assert_eq!(attempts.count("999"), 2);
        assert_eq!(attempts.count("0"), 1);
    }
}
