//! A small bounded map from bytes to parsed keys, so a call with a key the emulator has
//! seen recently does not parse (RSA: validate and precompute; EC: derive the public point)
//! the same key again.
//!
//! Keys are authenticated bytes (a sealed blob, or key material taken out of one) or a
//! SHA-256 of them, so equal keys mean equal contents. When the map is full an arbitrary
//! entry makes room: eviction order does not matter for a working set that fits, and a
//! working set that does not fit costs what it cost before the cache existed.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// How many parsed keys each cache keeps: a load run uses a handful of keys, a conformance
/// run a few thousand over its whole length.
pub const CAPACITY: usize = 1024;

/// A bounded map guarded by one mutex (held only to look up or insert, never while parsing).
pub struct Bounded<K, V> {
    map: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Bounded<K, V> {
    pub fn new(capacity: usize) -> Self {
        Bounded { map: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().get(key).cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(&key) {
            // Drops the first entry in the map's (randomly seeded) order: O(capacity), only
            // when full.
            let mut first = true;
            map.retain(|_, _| !std::mem::take(&mut first));
        }
        map.insert(key, value);
    }

    /// The value of `key`, made by `make` (outside the lock) when absent; errors are not kept.
    pub fn get_or_try<E>(&self, key: K, make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let value = make()?;
        self.insert(key, value.clone());
        Ok(value)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        // A panic while holding the lock left a map that is still consistent (inserts and
        // removals are single HashMap calls), so a poisoned lock is used as is.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_bound_and_keeps_what_it_was_given() {
        let cache = Bounded::new(3);
        for i in 0..10u8 {
            cache.insert(vec![i], i);
            assert!(cache.len() <= 3);
            assert_eq!(cache.get(&[i][..]), Some(i));
        }
        let made: Result<u8, ()> = cache.get_or_try(vec![42], || Ok(7));
        assert_eq!(made, Ok(7));
        assert_eq!(cache.get_or_try(vec![42], || Err(())), Ok(7), "the second call is a hit");
        assert_eq!(cache.get_or_try(vec![43], || Err::<u8, _>("no")), Err("no"));
        assert_eq!(cache.get(&[43][..]), None, "errors are not kept");
    }
}
