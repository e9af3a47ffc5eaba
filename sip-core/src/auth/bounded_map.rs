//! A map that forgets its oldest entries, so that what peers can make us
//! remember stays bounded.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A map with at most `capacity` entries that forgets the oldest inserted
/// one when full.
pub(super) struct BoundedMap<K, V> {
    entries: HashMap<K, (u64, V)>,
    // Insertion order; entries whose sequence number no longer matches were
    // removed and are skipped.
    order: VecDeque<(K, u64)>,
    capacity: usize,
    next_sequence: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub(super) fn new(capacity: usize) -> Self {
        BoundedMap {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            next_sequence: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).map(|(_, value)| value)
    }

    /// Inserts a new key (or replaces a value in place); returns the entry
    /// evicted to make room.
    pub(super) fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some((_, slot)) = self.entries.get_mut(&key) {
            *slot = value;
            return None;
        }
        let mut evicted = None;
        while self.entries.len() >= self.capacity {
            let Some((old, sequence)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&old).is_some_and(|(s, _)| *s == sequence) {
                let (_, value) = self.entries.remove(&old).expect("just looked up");
                evicted = Some((old, value));
            }
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.order.push_back((key.clone(), sequence));
        self.entries.insert(key, (sequence, value));
        evicted
    }

    pub(super) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = self.entries.remove(key).map(|(_, value)| value);
        if self.order.len() > 2 * self.capacity + 64 {
            let entries = &self.entries;
            self.order.retain(|(entry, sequence)| {
                entries
                    .get::<K>(entry)
                    .is_some_and(|(current, _)| current == sequence)
            });
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_map_survives_churn() {
        let mut map = BoundedMap::new(4);
        for round in 0..1_000u32 {
            map.insert(round % 7, round);
            if round % 3 == 0 {
                map.remove(&(round % 7));
            }
            assert!(map.len() <= 4);
            assert!(map.order.len() <= 2 * 4 + 64 + 1);
        }
    }
}
