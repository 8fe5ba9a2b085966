//! Work that may run at once, bounded on this node in total and per user: [`Slots`]. Held
//! by `AppState` for account exports (each holds a blocking thread) and attachment
//! uploads (each stages up to the size limit on disk); a request past either bound is
//! refused at once (429), never queued.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ids::UserId;

/// At most `total` slots at once, at most `per_user` of them one user's.
pub struct Slots {
    total: usize,
    per_user: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_user: HashMap<UserId, usize>,
}

/// One taken slot, given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    user: Option<UserId>,
}

impl Slots {
    pub fn new(total: usize, per_user: usize) -> Arc<Self> {
        Arc::new(Slots { total, per_user, held: Mutex::default() })
    }

    /// A slot for `user` (`None`: counted in the total only), unless the total or the
    /// user's share is taken: both are checked and counted under one lock.
    pub fn try_take(self: &Arc<Self>, user: Option<&UserId>) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.total >= self.total {
            return None;
        }
        if let Some(user) = user {
            let mine = held.by_user.entry(user.clone()).or_default();
            if *mine >= self.per_user {
                return None;
            }
            *mine += 1;
        }
        held.total += 1;
        Some(Slot { slots: self.clone(), user: user.cloned() })
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.total -= 1;
        if let Some(user) = &self.user
            && let Some(mine) = held.by_user.get_mut(user)
        {
            *mine -= 1;
            if *mine == 0 {
                held.by_user.remove(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_in_total_and_come_back_when_dropped() {
        let slots = Slots::new(3, 2);
        let (ann, bob) = (UserId::new("ann"), UserId::new("bob"));
        let a1 = slots.try_take(Some(&ann)).unwrap();
        let _a2 = slots.try_take(Some(&ann)).unwrap();
        assert!(slots.try_take(Some(&ann)).is_none(), "ann's share is taken");
        let b1 = slots.try_take(Some(&bob)).unwrap();
        assert!(slots.try_take(Some(&bob)).is_none(), "the total is taken");
        assert!(slots.try_take(None).is_none());
        drop(b1);
        assert!(slots.try_take(Some(&ann)).is_none(), "a freed slot is not ann's share");
        let anyone = slots.try_take(None).unwrap();
        drop((a1, anyone));
        assert_eq!(slots.taken(), 1);
        assert!(slots.try_take(Some(&ann)).is_some());
        assert_eq!(slots.held.lock().unwrap().by_user.len(), 1, "a user with no slot is forgotten");
    }
}
