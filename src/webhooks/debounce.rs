//! `document.updated` without a delivery per keystroke: each committed change to a
//! document (a room's group commit, or its title and tags changed through the API)
//! touches its entry here, and the document is announced once it has been quiet for the
//! debounce time, or once changes have gone on for ten times that long. The map is
//! bounded: past [`MAX_DOCS`] documents everything waiting is announced at the next tick,
//! and past twice that a change is dropped (and counted) rather than grow memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::ids::DocId;

/// Documents waiting before everything waiting is announced early.
pub const MAX_DOCS: usize = 10_000;

/// Documents changed and not announced yet.
pub struct UpdateDebounce {
    quiet: Duration,
    max_wait: Duration,
    /// Per document: its first and its last change since it was last announced.
    waiting: Mutex<HashMap<DocId, (Instant, Instant)>>,
    /// Woken when the map is full, so the flusher empties it at once.
    pub(super) full: Notify,
}

impl UpdateDebounce {
    pub fn new(quiet: Duration) -> Self {
        UpdateDebounce { quiet, max_wait: quiet * 10, waiting: Mutex::new(HashMap::new()), full: Notify::new() }
    }

    /// Records a committed change to `doc`.
    pub fn touch(&self, doc: &DocId) {
        self.touch_at(doc, Instant::now());
    }

    fn touch_at(&self, doc: &DocId, now: Instant) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, last)) = waiting.get_mut(doc) {
            *last = now;
            return;
        }
        if waiting.len() >= 2 * MAX_DOCS {
            metrics::counter!(crate::metrics::WEBHOOK_CHANGES_DROPPED).increment(1);
            return;
        }
        waiting.insert(doc.clone(), (now, now));
        if waiting.len() >= MAX_DOCS {
            self.full.notify_one();
        }
    }

    /// Takes the documents due at `now` (all of them when the map is full).
    pub fn due(&self, now: Instant) -> Vec<DocId> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let all = waiting.len() >= MAX_DOCS;
        let (quiet, max_wait) = (self.quiet, self.max_wait);
        let mut due = Vec::new();
        waiting.retain(|doc, (first, last)| {
            let go = all || now.duration_since(*last) >= quiet || now.duration_since(*first) >= max_wait;
            if go {
                due.push(doc.clone());
            }
            !go
        });
        due
    }

    /// Takes every document waiting, due or not (at shutdown).
    pub fn take_all(&self) -> Vec<DocId> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.drain().map(|(doc, _)| doc).collect()
    }

    /// How often the flusher looks.
    pub fn tick(&self) -> Duration {
        (self.quiet / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> DocId {
        DocId::parse(s).unwrap()
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_document_is_due_after_a_quiet_spell() {
        let (c, t0) = (UpdateDebounce::new(2 * S), Instant::now());
        c.touch_at(&doc("a"), t0);
        c.touch_at(&doc("a"), t0 + S);
        assert!(c.due(t0 + 2 * S).is_empty());
        assert_eq!(c.due(t0 + 3 * S), vec![doc("a")]);
        assert!(c.due(t0 + 9 * S).is_empty(), "announced once");
    }

    #[test]
    fn a_document_changed_without_pause_is_due_after_the_longest_wait() {
        let (c, t0) = (UpdateDebounce::new(2 * S), Instant::now());
        for i in 0..20 {
            c.touch_at(&doc("a"), t0 + i * S);
            assert!(c.due(t0 + i * S + S / 2).is_empty(), "at {i} s");
        }
        assert_eq!(c.due(t0 + 20 * S), vec![doc("a")]);
    }

    #[test]
    fn a_full_map_is_emptied_at_once_and_never_grows_past_twice_its_bound() {
        let (c, t0) = (UpdateDebounce::new(2 * S), Instant::now());
        for i in 0..2 * MAX_DOCS + 10 {
            c.touch_at(&doc(&i.to_string()), t0);
        }
        assert_eq!(c.due(t0).len(), 2 * MAX_DOCS);
        assert!(c.due(t0).is_empty());
    }
}
