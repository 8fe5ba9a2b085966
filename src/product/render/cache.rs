//! Rendered documents kept for reuse, by document id and the ETag they were rendered at,
//! within a byte budget: the least recently used go first. Handlers look a render up
//! before making one and store what they made.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;

/// What an entry costs beyond its HTML: the id twice (map and order), the ETag, the nodes.
const ENTRY_OVERHEAD: usize = 128;

/// A byte-bounded LRU map from document id to (ETag, HTML). Holds at most `max_bytes`
/// counting every entry's HTML, keys and bookkeeping; an entry larger than that is not kept.
pub struct RenderCache {
    max_bytes: usize,
    lru: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    /// Entries by last use (a tick that only grows), oldest first.
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
}

struct Entry {
    etag: String,
    html: Bytes,
    used: u64,
    cost: usize,
}

impl Lru {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn remove(&mut self, id: &str) {
        if let Some(e) = self.entries.remove(id) {
            self.order.remove(&e.used);
            self.bytes -= e.cost;
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((_, id)) = self.order.pop_first()
            && let Some(e) = self.entries.remove(&id)
        {
            self.bytes -= e.cost;
        }
    }
}

impl RenderCache {
    pub fn new(max_bytes: usize) -> Self {
        RenderCache { max_bytes, lru: Mutex::new(Lru::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // Every critical section leaves the maps consistent: a panic elsewhere can't tear them.
        self.lru.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The HTML of `id` rendered at `etag`, if kept.
    pub fn get(&self, id: &str, etag: &str) -> Option<Bytes> {
        let mut lru = self.lock();
        let tick = lru.next_tick();
        let entry = lru.entries.get_mut(id).filter(|e| e.etag == etag)?;
        let last = std::mem::replace(&mut entry.used, tick);
        let html = entry.html.clone();
        lru.order.remove(&last);
        lru.order.insert(tick, id.to_owned());
        Some(html)
    }

    /// Keeps `html` as `id` at `etag` (replacing any other version of `id`), evicting the
    /// least recently used entries until it fits.
    pub fn insert(&self, id: &str, etag: &str, html: Bytes) {
        let cost = html.len() + 2 * id.len() + etag.len() + ENTRY_OVERHEAD;
        let mut lru = self.lock();
        lru.remove(id);
        if cost <= self.max_bytes {
            while lru.bytes + cost > self.max_bytes {
                lru.evict_oldest();
            }
            let used = lru.next_tick();
            lru.order.insert(used, id.to_owned());
            lru.entries.insert(id.to_owned(), Entry { etag: etag.to_owned(), html, used, cost });
            lru.bytes += cost;
        }
        metrics::gauge!(crate::metrics::RENDER_CACHE_BYTES).set(lru.bytes as f64);
    }

    /// Bytes held, counted as the bound counts them.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Documents held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn stays_under_its_byte_bound_and_evicts_the_least_recently_used() {
        let cache = RenderCache::new(10_000);
        for i in 0..100 {
            cache.insert(&format!("doc{i}"), "e1", html(1_000));
            assert!(cache.bytes() <= 10_000, "{} bytes after {i} inserts", cache.bytes());
        }
        let kept = cache.len();
        assert!((5..10).contains(&kept), "{kept} entries of ~1.1 kB in 10 kB");
        // The newest are kept; touching the oldest kept one saves it from the next eviction.
        let oldest = 100 - kept;
        assert!(cache.get(&format!("doc{}", oldest - 1), "e1").is_none());
        assert!(cache.get(&format!("doc{oldest}"), "e1").is_some());
        cache.insert("new", "e1", html(1_000));
        assert!(cache.get(&format!("doc{oldest}"), "e1").is_some(), "recently used entry evicted");
        assert!(cache.get(&format!("doc{}", oldest + 1), "e1").is_none(), "least recently used entry kept");
    }

    #[test]
    fn a_new_etag_replaces_the_old_render_and_oversized_renders_are_not_kept() {
        let cache = RenderCache::new(10_000);
        cache.insert("doc", "e1", html(100));
        assert_eq!(cache.get("doc", "e1"), Some(html(100)));
        assert_eq!(cache.get("doc", "e2"), None);
        cache.insert("doc", "e2", html(200));
        assert_eq!((cache.get("doc", "e1"), cache.get("doc", "e2")), (None, Some(html(200))));
        assert_eq!(cache.len(), 1);
        cache.insert("doc", "e3", html(20_000));
        assert!(cache.is_empty() && cache.bytes() == 0, "an entry over the bound is dropped, not kept");
    }
}
