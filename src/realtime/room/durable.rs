//! The room's durability ordering: nothing that carries document state leaves the room
//! before the commits queued before it have landed.
//!
//! Each delta handed to the group-commit writer gets a sequence number and a place in one
//! queue; whatever must wait for the commits in flight (a sync reply, a REST answer, the
//! text for search, a reply to a peer) queues behind them. The I/O loop reports each
//! commit's outcome in order, and [`Commits::landed`] hands back the commit's own item
//! followed by everything that was waiting on it alone.

use std::collections::VecDeque;

/// The queue of commits in flight and of what waits on them: `C` is what the room does
/// once a commit lands, `H` what it held back until the commits before it landed.
#[derive(Debug)]
pub(super) struct Commits<C, H> {
    next_seq: u64,
    /// A commit failed: nothing held goes out any more, whatever asks later.
    failed: bool,
    /// Invariant: empty, or a commit at the front.
    queue: VecDeque<Entry<C, H>>,
}

#[derive(Debug)]
enum Entry<C, H> {
    Commit(u64, C),
    Held(H),
}

/// What landed with one commit: its own item, then those queued behind it up to the
/// next commit still in flight.
#[derive(Debug)]
pub(super) struct Landed<C, H> {
    pub commit: C,
    pub released: Vec<H>,
}

impl<C, H> Default for Commits<C, H> {
    fn default() -> Self {
        Commits { next_seq: 0, failed: false, queue: VecDeque::new() }
    }
}

impl<C, H> Commits<C, H> {
    /// Whether any commit is in flight.
    #[cfg(test)]
    pub fn in_flight(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Queues a commit; the returned sequence number is what the writer's outcome is
    /// reported under.
    pub fn commit(&mut self, item: C) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(Entry::Commit(seq, item));
        seq
    }

    /// Gives `item` back when nothing is in flight (it may go now); otherwise holds it
    /// until every commit queued so far has landed. After a failed commit it is dropped:
    /// what the document holds now may never have been made durable.
    pub fn hold(&mut self, item: H) -> Option<H> {
        if self.failed {
            return None;
        }
        if self.queue.is_empty() {
            return Some(item);
        }
        self.queue.push_back(Entry::Held(item));
        None
    }

    /// The commit `seq` landed: it must be the oldest in flight (the writer reports in
    /// order). `None` if it is not (then nothing is released).
    pub fn landed(&mut self, seq: u64) -> Option<Landed<C, H>> {
        let commit = match self.queue.front() {
            Some(Entry::Commit(front, _)) if *front == seq => match self.queue.pop_front() {
                Some(Entry::Commit(_, item)) => item,
                _ => unreachable!("the front was just a commit"),
            },
            _ => return None,
        };
        let mut released = Vec::new();
        while let Some(Entry::Held(_)) = self.queue.front() {
            if let Some(Entry::Held(item)) = self.queue.pop_front() {
                released.push(item);
            }
        }
        Some(Landed { commit, released })
    }

    /// A commit failed: drops everything queued, and from now on everything held.
    pub fn fail(&mut self) {
        self.failed = true;
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_go_at_once_when_nothing_is_in_flight() {
        let mut c: Commits<&str, &str> = Commits::default();
        assert_eq!(c.hold("reply"), Some("reply"));
        assert!(!c.in_flight());
    }

    #[test]
    fn held_items_wait_for_every_commit_queued_before_them() {
        let mut c: Commits<&str, &str> = Commits::default();
        let a = c.commit("a");
        assert_eq!(c.hold("after a"), None);
        let b = c.commit("b");
        assert_eq!(c.hold("after b"), None);
        assert_eq!(c.hold("after b too"), None);
        let first = c.landed(a).unwrap();
        assert_eq!((first.commit, first.released), ("a", vec!["after a"]));
        assert!(c.in_flight());
        let second = c.landed(b).unwrap();
        assert_eq!((second.commit, second.released), ("b", vec!["after b", "after b too"]));
        assert!(!c.in_flight());
    }

    #[test]
    fn after_a_failed_commit_nothing_held_goes_out_even_with_nothing_in_flight() {
        let mut c: Commits<&str, &str> = Commits::default();
        c.commit("a");
        assert_eq!(c.hold("after a"), None);
        c.fail();
        assert!(!c.in_flight());
        assert_eq!(c.hold("asked later"), None);
    }

    #[test]
    fn an_outcome_out_of_order_releases_nothing() {
        let mut c: Commits<&str, ()> = Commits::default();
        let a = c.commit("a");
        let b = c.commit("b");
        assert!(c.landed(b).is_none());
        assert_eq!(c.landed(a).unwrap().commit, "a");
        assert_eq!(c.landed(b).unwrap().commit, "b");
    }
}
