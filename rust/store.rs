//! The in-memory entry store: key -> response bytes plus metadata, per namespace.
//!
//! One mutex guards the whole store. Every operation is O(1) (LRU, FIFO) or O(log n) (LFU,
//! TTL bookkeeping), so the lock is held for well under a microsecond; callers pass the clock
//! reading in, which keeps the store deterministic under test.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::CoreError;
use crate::savings::Saved;

const NIL: u32 = u32::MAX;

/// How many namespaces a store remembers from reads alone (misses under a name never written
/// to). Reads under caller-chosen tenant names must not grow the store without bound: past this
/// many, and for names longer than `MAX_READ_ONLY_NAME_LEN`, a miss is counted in
/// `unlisted_misses` and nothing is allocated. `clear(None)` forgets these namespaces.
pub const MAX_READ_ONLY_NAMESPACES: usize = 1024;
pub const MAX_READ_ONLY_NAME_LEN: usize = 256;

/// Which entry leaves first when the store is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Least recently read or written.
    Lru,
    /// Least often read (ties: least recently read).
    Lfu,
    /// Oldest write.
    Fifo,
}

impl Eviction {
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        match name {
            "lru" => Ok(Eviction::Lru),
            "lfu" => Ok(Eviction::Lfu),
            "fifo" => Ok(Eviction::Fifo),
            other => Err(CoreError::InvalidArgument(format!(
                "eviction must be 'lru', 'lfu' or 'fifo', not {other:?}"
            ))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub max_entries: Option<usize>,
    /// Cap on the summed size of stored values, in bytes.
    pub max_bytes: Option<usize>,
    /// Seconds an entry lives when `put` names no ttl; None = until evicted.
    pub default_ttl: Option<f64>,
    pub eviction: Eviction,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_entries: None,
            max_bytes: None,
            default_ttl: None,
            eviction: Eviction::Lru,
        }
    }
}

/// Counters of one namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NamespaceStats {
    pub hits: u64,
    pub misses: u64,
    pub stores: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub entries: u64,
    pub bytes: u64,
}

/// What a successful read returns.
#[derive(Clone, Debug)]
pub struct Found {
    pub value: Arc<[u8]>,
    pub created: f64,
    /// f64::INFINITY when the entry never expires.
    pub expires: f64,
    /// Reads of this entry, this one included.
    pub hits: u64,
    /// What the call behind the entry cost, when the writer said (`put_saved`).
    pub saved: Option<Saved>,
}

/// Why a read found nothing usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    Absent,
    Expired,
    /// Present but older than the caller's `max_age`.
    TooOld,
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Stored {
        evicted: usize,
    },
    /// The value alone is larger than `max_bytes`, or the ttl is not positive: nothing changed.
    Rejected,
}

struct Entry {
    ns: u32,
    key: u128,
    value: Arc<[u8]>,
    created: f64,
    expires: f64,
    hits: u64,
    /// Boxed: most entries have none, and the rest pay 8 bytes here.
    saved: Option<Box<Saved>>,
    /// Last read or write, for LFU tie-breaks.
    tick: u64,
    prev: u32,
    next: u32,
}

#[derive(Default)]
struct Inner {
    index: HashMap<(u32, u128), u32>,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Recency list: head is the newest. LRU moves an entry to the head on each read.
    head: u32,
    tail: u32,
    /// (hits, tick, slot) of every entry, kept under LFU only: the other policies update an
    /// entry's hits without touching this set, so keeping it there would leak stale tuples.
    by_frequency: BTreeSet<(u64, u64, u32)>,
    by_expiry: BTreeSet<(u64, u32)>,
    namespace_ids: HashMap<String, u32>,
    namespace_names: Vec<String>,
    stats: Vec<NamespaceStats>,
    /// Namespaces known only from reads (never written to): bounded by `MAX_READ_ONLY_NAMESPACES`.
    read_only_namespaces: usize,
    /// Misses under namespaces that hold no record (past the bound, or dropped at `clear`).
    unlisted_misses: u64,
    entries: usize,
    bytes: usize,
    tick: u64,
}

/// A thread-safe in-memory cache of byte values.
pub struct EntryStore {
    config: StoreConfig,
    inner: Mutex<Inner>,
}

/// Positive finite f64s order like their bits, which lets the expiry set use integers.
fn expiry_bits(t: f64) -> u64 {
    t.to_bits()
}

impl Inner {
    fn new() -> Self {
        Inner {
            head: NIL,
            tail: NIL,
            ..Default::default()
        }
    }

    /// The id of a namespace being written to, created if new.
    fn namespace_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.namespace_ids.get(name) {
            if self.stats[id as usize].stores == 0 {
                self.read_only_namespaces -= 1;
            }
            return id;
        }
        self.new_namespace(name)
    }

    /// The id of a namespace being read, if it has one or may get one (see
    /// `MAX_READ_ONLY_NAMESPACES`); None means the read allocates nothing.
    fn namespace_id_for_read(&mut self, name: &str) -> Option<u32> {
        if let Some(&id) = self.namespace_ids.get(name) {
            return Some(id);
        }
        if self.read_only_namespaces >= MAX_READ_ONLY_NAMESPACES
            || name.len() > MAX_READ_ONLY_NAME_LEN
        {
            return None;
        }
        self.read_only_namespaces += 1;
        Some(self.new_namespace(name))
    }

    fn new_namespace(&mut self, name: &str) -> u32 {
        let id = self.namespace_names.len() as u32;
        self.namespace_names.push(name.to_owned());
        self.stats.push(NamespaceStats::default());
        self.namespace_ids.insert(name.to_owned(), id);
        id
    }

    fn entry(&self, slot: u32) -> &Entry {
        self.slots[slot as usize].as_ref().expect("live slot")
    }

    fn entry_mut(&mut self, slot: u32) -> &mut Entry {
        self.slots[slot as usize].as_mut().expect("live slot")
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let e = self.entry(slot);
            (e.prev, e.next)
        };
        if prev == NIL {
            self.head = next
        } else {
            self.entry_mut(prev).next = next
        }
        if next == NIL {
            self.tail = prev
        } else {
            self.entry_mut(next).prev = prev
        }
    }

    fn push_front(&mut self, slot: u32) {
        let old_head = self.head;
        {
            let e = self.entry_mut(slot);
            e.prev = NIL;
            e.next = old_head;
        }
        if old_head != NIL {
            self.entry_mut(old_head).prev = slot;
        } else {
            self.tail = slot;
        }
        self.head = slot;
    }

    fn remove_slot(&mut self, slot: u32) -> Entry {
        self.unlink(slot);
        let e = self.slots[slot as usize].take().expect("live slot");
        self.free.push(slot);
        self.index.remove(&(e.ns, e.key));
        if !self.by_frequency.is_empty() {
            self.by_frequency.remove(&(e.hits, e.tick, slot));
        }
        if e.expires.is_finite() {
            self.by_expiry.remove(&(expiry_bits(e.expires), slot));
        }
        self.entries -= 1;
        self.bytes -= e.value.len();
        let s = &mut self.stats[e.ns as usize];
        s.entries -= 1;
        s.bytes -= e.value.len() as u64;
        e
    }

    fn purge_expired(&mut self, now: f64) -> usize {
        let mut n = 0;
        while let Some(&(bits, slot)) = self.by_expiry.first() {
            if f64::from_bits(bits) > now {
                break;
            }
            let e = self.remove_slot(slot);
            self.stats[e.ns as usize].expirations += 1;
            n += 1;
        }
        n
    }

    fn victim(&self, eviction: Eviction, keep: u32) -> Option<u32> {
        let candidate = match eviction {
            Eviction::Lru | Eviction::Fifo => {
                let t = self.tail;
                if t == keep {
                    self.entry(t).prev
                } else {
                    t
                }
            }
            Eviction::Lfu => self
                .by_frequency
                .iter()
                .map(|&(_, _, s)| s)
                .find(|&s| s != keep)?,
        };
        (candidate != NIL).then_some(candidate)
    }
}

impl EntryStore {
    pub fn new(config: StoreConfig) -> Result<Self, CoreError> {
        if config.max_entries == Some(0) {
            return Err(CoreError::InvalidArgument(
                "max_entries must be at least 1 (or None for no limit)".into(),
            ));
        }
        if config.max_bytes == Some(0) {
            return Err(CoreError::InvalidArgument(
                "max_bytes must be at least 1 (or None for no limit)".into(),
            ));
        }
        if let Some(ttl) = config.default_ttl {
            check_ttl(ttl)?;
        }
        Ok(EntryStore {
            config,
            inner: Mutex::new(Inner::new()),
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Reads an entry; `max_age` (seconds) refuses entries written longer ago than that.
    pub fn get(
        &self,
        namespace: &str,
        key: u128,
        now: f64,
        max_age: Option<f64>,
    ) -> Result<Found, Miss> {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let Some(ns) = inner.namespace_id_for_read(namespace) else {
            inner.unlisted_misses += 1;
            return Err(Miss::Absent);
        };
        let Some(&slot) = inner.index.get(&(ns, key)) else {
            inner.stats[ns as usize].misses += 1;
            return Err(Miss::Absent);
        };
        let (created, expires) = {
            let e = inner.entry(slot);
            (e.created, e.expires)
        };
        if expires <= now {
            inner.remove_slot(slot);
            let s = &mut inner.stats[ns as usize];
            s.expirations += 1;
            s.misses += 1;
            return Err(Miss::Expired);
        }
        if max_age.is_some_and(|age| now - created > age) {
            inner.stats[ns as usize].misses += 1;
            return Err(Miss::TooOld);
        }
        inner.tick += 1;
        let tick = inner.tick;
        let eviction = self.config.eviction;
        let (old_hits, old_tick) = {
            let e = inner.entry_mut(slot);
            let old = (e.hits, e.tick);
            e.hits += 1;
            e.tick = tick;
            old
        };
        match eviction {
            Eviction::Lru => {
                inner.unlink(slot);
                inner.push_front(slot);
            }
            Eviction::Lfu => {
                inner.by_frequency.remove(&(old_hits, old_tick, slot));
                inner.by_frequency.insert((old_hits + 1, tick, slot));
            }
            Eviction::Fifo => {}
        }
        inner.stats[ns as usize].hits += 1;
        let e = inner.entry(slot);
        Ok(Found {
            value: e.value.clone(),
            created: e.created,
            expires: e.expires,
            hits: e.hits,
            saved: e.saved.as_deref().copied(),
        })
    }

    /// Whether a live entry exists, without counting a read.
    pub fn contains(&self, namespace: &str, key: u128, now: f64) -> bool {
        let g = self.inner.lock();
        let Some(&ns) = g.namespace_ids.get(namespace) else {
            return false;
        };
        g.index
            .get(&(ns, key))
            .is_some_and(|&slot| g.entry(slot).expires > now)
    }

    /// Writes an entry, replacing any entry under the same key, then evicts until the store
    /// is within its caps. `ttl` None means the store's default ttl.
    pub fn put(
        &self,
        namespace: &str,
        key: u128,
        value: Arc<[u8]>,
        now: f64,
        ttl: Option<f64>,
    ) -> Result<Stored, CoreError> {
        self.put_saved(namespace, key, value, now, ttl, None)
    }

    /// `put`, keeping with the entry what the call behind it cost (returned by reads in
    /// `Found::saved`, so a hit can count its savings without decoding the value).
    pub fn put_saved(
        &self,
        namespace: &str,
        key: u128,
        value: Arc<[u8]>,
        now: f64,
        ttl: Option<f64>,
        saved: Option<Saved>,
    ) -> Result<Stored, CoreError> {
        let ttl = match ttl {
            Some(t) => {
                check_ttl(t)?;
                Some(t)
            }
            None => self.config.default_ttl,
        };
        if ttl == Some(0.0) || self.config.max_bytes.is_some_and(|cap| value.len() > cap) {
            return Ok(Stored::Rejected);
        }
        let expires = ttl.map_or(f64::INFINITY, |t| now + t);
        let size = value.len();

        let mut g = self.inner.lock();
        let inner = &mut *g;
        let ns = inner.namespace_id(namespace);
        if let Some(&old) = inner.index.get(&(ns, key)) {
            inner.remove_slot(old);
        }
        inner.tick += 1;
        let tick = inner.tick;
        let entry = Entry {
            ns,
            key,
            value,
            created: now,
            expires,
            hits: 0,
            saved: saved.map(Box::new),
            tick,
            prev: NIL,
            next: NIL,
        };
        let slot = match inner.free.pop() {
            Some(s) => {
                inner.slots[s as usize] = Some(entry);
                s
            }
            None => {
                inner.slots.push(Some(entry));
                (inner.slots.len() - 1) as u32
            }
        };
        inner.index.insert((ns, key), slot);
        inner.push_front(slot);
        if self.config.eviction == Eviction::Lfu {
            inner.by_frequency.insert((0, tick, slot));
        }
        if expires.is_finite() {
            inner.by_expiry.insert((expiry_bits(expires), slot));
        }
        inner.entries += 1;
        inner.bytes += size;
        {
            let s = &mut inner.stats[ns as usize];
            s.stores += 1;
            s.entries += 1;
            s.bytes += size as u64;
        }

        inner.purge_expired(now);
        let mut evicted = 0;
        let over = |i: &Inner| {
            self.config.max_entries.is_some_and(|cap| i.entries > cap)
                || self.config.max_bytes.is_some_and(|cap| i.bytes > cap)
        };
        while over(inner) {
            let Some(victim) = inner.victim(self.config.eviction, slot) else {
                break;
            };
            let e = inner.remove_slot(victim);
            inner.stats[e.ns as usize].evictions += 1;
            evicted += 1;
        }
        Ok(Stored::Stored { evicted })
    }

    pub fn remove(&self, namespace: &str, key: u128) -> bool {
        let mut g = self.inner.lock();
        let Some(&ns) = g.namespace_ids.get(namespace) else {
            return false;
        };
        match g.index.get(&(ns, key)).copied() {
            Some(slot) => {
                g.remove_slot(slot);
                true
            }
            None => false,
        }
    }

    /// Removes every entry of one namespace, or of all when `namespace` is None.
    pub fn clear(&self, namespace: Option<&str>) -> usize {
        let mut g = self.inner.lock();
        match namespace {
            None => {
                // Counters of namespaces written to survive a clear; namespaces known only from
                // reads are forgotten (their misses move to `unlisted_misses`).
                let n = g.entries;
                let mut kept = Inner::new();
                kept.unlisted_misses = g.unlisted_misses;
                let names = std::mem::take(&mut g.namespace_names);
                for (name, s) in names.into_iter().zip(g.stats.iter()) {
                    if s.stores == 0 {
                        kept.unlisted_misses += s.misses;
                        continue;
                    }
                    let id = kept.new_namespace(&name);
                    kept.stats[id as usize] = NamespaceStats {
                        entries: 0,
                        bytes: 0,
                        ..*s
                    };
                }
                *g = kept;
                n
            }
            Some(name) => {
                let Some(&ns) = g.namespace_ids.get(name) else {
                    return 0;
                };
                let slots: Vec<u32> = g
                    .index
                    .iter()
                    .filter(|((n, _), _)| *n == ns)
                    .map(|(_, &s)| s)
                    .collect();
                for &s in &slots {
                    g.remove_slot(s);
                }
                slots.len()
            }
        }
    }

    /// Drops every entry whose ttl has run out; returns how many.
    pub fn purge_expired(&self, now: f64) -> usize {
        self.inner.lock().purge_expired(now)
    }

    /// Entries held (expired ones included until they are read or purged).
    pub fn len(&self) -> usize {
        self.inner.lock().entries
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// Counters of every namespace seen so far.
    pub fn stats(&self) -> Vec<(String, NamespaceStats)> {
        let g = self.inner.lock();
        g.namespace_names
            .iter()
            .cloned()
            .zip(g.stats.iter().copied())
            .collect()
    }

    /// Misses under namespaces `stats` does not list (see `MAX_READ_ONLY_NAMESPACES`).
    pub fn unlisted_misses(&self) -> u64 {
        self.inner.lock().unlisted_misses
    }

    /// How many namespaces the store holds a record for (for tests of its bounds).
    pub fn namespace_records(&self) -> usize {
        self.inner.lock().namespace_names.len()
    }

    /// Size of the LFU frequency set (for tests: it must never outgrow the entries).
    #[doc(hidden)]
    pub fn frequency_set_len(&self) -> usize {
        self.inner.lock().by_frequency.len()
    }

    /// Keys of one namespace from the most to the least recently used (for LRU and FIFO
    /// stores: the eviction order reversed).
    pub fn keys(&self, namespace: &str) -> Vec<u128> {
        let g = self.inner.lock();
        let Some(&ns) = g.namespace_ids.get(namespace) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut cur = g.head;
        while cur != NIL {
            let e = g.entry(cur);
            if e.ns == ns {
                out.push(e.key);
            }
            cur = e.next;
        }
        out
    }
}

fn check_ttl(ttl: f64) -> Result<(), CoreError> {
    if ttl.is_nan() || ttl < 0.0 {
        return Err(CoreError::InvalidArgument(format!(
            "ttl must be a number of seconds >= 0 (or None for no expiry), not {ttl}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(
        max_entries: Option<usize>,
        max_bytes: Option<usize>,
        eviction: Eviction,
    ) -> EntryStore {
        EntryStore::new(StoreConfig {
            max_entries,
            max_bytes,
            default_ttl: None,
            eviction,
        })
        .unwrap()
    }

    fn val(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn savings_kept_with_an_entry_come_back_with_each_read() {
        use crate::savings::Num;
        let s = EntryStore::new(StoreConfig::default()).unwrap();
        let saved = [Num::Float(0.5), Num::Int(0), Num::Int(7)];
        s.put_saved("n", 1, val("one"), 0.0, None, Some(saved))
            .unwrap();
        s.put("n", 2, val("two"), 0.0, None).unwrap();
        assert_eq!(s.get("n", 1, 1.0, None).unwrap().saved, Some(saved));
        assert_eq!(s.get("n", 2, 1.0, None).unwrap().saved, None);
        s.put("n", 1, val("again"), 0.0, None).unwrap(); // a rewrite drops what was kept
        assert_eq!(s.get("n", 1, 1.0, None).unwrap().saved, None);
    }

    #[test]
    fn get_put_and_namespaces() {
        let s = store(None, None, Eviction::Lru);
        s.put("a", 1, val("one"), 0.0, None).unwrap();
        assert_eq!(&*s.get("a", 1, 1.0, None).unwrap().value, b"one");
        assert_eq!(s.get("b", 1, 1.0, None).unwrap_err(), Miss::Absent);
        assert!(s.remove("a", 1));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn lru_evicts_least_recently_read() {
        let s = store(Some(2), None, Eviction::Lru);
        s.put("n", 1, val("1"), 0.0, None).unwrap();
        s.put("n", 2, val("2"), 0.0, None).unwrap();
        s.get("n", 1, 0.0, None).unwrap();
        assert_eq!(
            s.put("n", 3, val("3"), 0.0, None).unwrap(),
            Stored::Stored { evicted: 1 }
        );
        assert!(s.get("n", 2, 0.0, None).is_err());
        assert!(s.get("n", 1, 0.0, None).is_ok());
    }

    #[test]
    fn fifo_ignores_reads_and_lfu_counts_them() {
        let f = store(Some(2), None, Eviction::Fifo);
        f.put("n", 1, val("1"), 0.0, None).unwrap();
        f.put("n", 2, val("2"), 0.0, None).unwrap();
        f.get("n", 1, 0.0, None).unwrap();
        f.put("n", 3, val("3"), 0.0, None).unwrap();
        assert!(f.get("n", 1, 0.0, None).is_err());

        let l = store(Some(2), None, Eviction::Lfu);
        l.put("n", 1, val("1"), 0.0, None).unwrap();
        l.put("n", 2, val("2"), 0.0, None).unwrap();
        l.get("n", 1, 0.0, None).unwrap();
        l.get("n", 1, 0.0, None).unwrap();
        l.get("n", 2, 0.0, None).unwrap();
        l.put("n", 3, val("3"), 0.0, None).unwrap();
        assert!(l.get("n", 2, 0.0, None).is_err());
        assert!(l.get("n", 1, 0.0, None).is_ok());
    }

    #[test]
    fn byte_cap_evicts_and_rejects_oversized_values() {
        let s = store(None, Some(10), Eviction::Lru);
        s.put("n", 1, val("aaaa"), 0.0, None).unwrap();
        s.put("n", 2, val("bbbb"), 0.0, None).unwrap();
        s.put("n", 3, val("cccc"), 0.0, None).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.bytes() <= 10);
        assert_eq!(
            s.put("n", 4, val("xxxxxxxxxxx"), 0.0, None).unwrap(),
            Stored::Rejected
        );
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn ttl_and_max_age() {
        let s = store(None, None, Eviction::Lru);
        s.put("n", 1, val("v"), 100.0, Some(10.0)).unwrap();
        assert!(s.get("n", 1, 109.0, None).is_ok());
        assert_eq!(s.get("n", 1, 105.0, Some(2.0)).unwrap_err(), Miss::TooOld);
        assert_eq!(s.get("n", 1, 110.0, None).unwrap_err(), Miss::Expired);
        let st = &s.stats()[0].1;
        assert_eq!((st.expirations, st.entries), (1, 0));
        assert!(s.put("n", 1, val("v"), 0.0, Some(-1.0)).is_err());
        assert_eq!(
            s.put("n", 1, val("v"), 0.0, Some(0.0)).unwrap(),
            Stored::Rejected
        );
    }

    #[test]
    fn expired_entries_leave_before_live_ones_are_evicted() {
        let s = store(Some(2), None, Eviction::Lru);
        s.put("n", 1, val("1"), 0.0, Some(1.0)).unwrap();
        s.put("n", 2, val("2"), 0.0, None).unwrap();
        s.put("n", 3, val("3"), 5.0, None).unwrap();
        assert!(s.get("n", 2, 5.0, None).is_ok());
        let st = &s.stats()[0].1;
        assert_eq!((st.expirations, st.evictions), (1, 0));
    }

    #[test]
    fn clear_one_namespace_keeps_the_others() {
        let s = store(None, None, Eviction::Lru);
        for k in 0..10 {
            s.put("a", k, val("x"), 0.0, None).unwrap();
            s.put("b", k, val("y"), 0.0, None).unwrap();
        }
        assert_eq!(s.clear(Some("a")), 10);
        assert_eq!(s.len(), 10);
        assert!(s.get("b", 3, 0.0, None).is_ok());
        assert_eq!(s.clear(None), 10);
        assert!(s.is_empty());
    }

    #[test]
    fn bad_config_is_an_error() {
        assert!(EntryStore::new(StoreConfig {
            max_entries: Some(0),
            ..Default::default()
        })
        .is_err());
        assert!(Eviction::parse("mru").is_err());
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    fn store(max_entries: usize, eviction: Eviction) -> EntryStore {
        EntryStore::new(StoreConfig {
            max_entries: Some(max_entries),
            eviction,
            ..Default::default()
        })
        .unwrap()
    }

    /// Issue 15 item 1: entries read before they left stayed in the frequency set under LRU/FIFO.
    #[test]
    fn frequency_set_never_outgrows_the_entries() {
        for eviction in [Eviction::Lru, Eviction::Lfu, Eviction::Fifo] {
            let s = store(10, eviction);
            for k in 0..1000u128 {
                s.put("n", k, Arc::from(&b"v"[..]), 0.0, None).unwrap();
                s.get("n", k, 0.0, None).unwrap();
                if k % 3 == 0 {
                    s.get("n", k, 0.0, None).unwrap();
                    s.remove("n", k.saturating_sub(1));
                }
            }
            let want = if eviction == Eviction::Lfu {
                s.len()
            } else {
                0
            };
            assert_eq!(s.frequency_set_len(), want, "{eviction:?}");
        }
    }

    /// Issue 15 item 7: reads under ever new namespace names allocate nothing past a bound, and
    /// their misses still count.
    #[test]
    fn reads_under_new_namespaces_are_bounded() {
        let s = store(10, Eviction::Lru);
        s.put("kept", 1, Arc::from(&b"v"[..]), 0.0, None).unwrap();
        let n = 3 * MAX_READ_ONLY_NAMESPACES as u128;
        for k in 0..n {
            assert!(s.get(&format!("tenant-{k}"), k, 0.0, None).is_err());
        }
        assert!(s
            .get(&"x".repeat(MAX_READ_ONLY_NAME_LEN + 1), 1, 0.0, None)
            .is_err());
        assert_eq!(s.namespace_records(), 1 + MAX_READ_ONLY_NAMESPACES);
        let listed: u64 = s.stats().iter().map(|(_, c)| c.misses).sum();
        assert_eq!(listed + s.unlisted_misses(), n as u64 + 1);
        // A read-only namespace written to becomes an ordinary one and keeps its misses.
        s.put("tenant-0", 9, Arc::from(&b"v"[..]), 0.0, None)
            .unwrap();
        s.clear(None);
        let names: Vec<String> = s.stats().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["kept", "tenant-0"]);
        assert_eq!(s.stats()[1].1.misses, 1);
        assert_eq!(s.unlisted_misses(), n as u64);
        // Room again for new read-only namespaces after the clear.
        s.get("fresh", 1, 0.0, None).unwrap_err();
        assert_eq!(s.namespace_records(), 3);
    }
}
