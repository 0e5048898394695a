//! Ordered maps and sets as sorted vectors. The standard library's B-trees were compiled anew for
//! each of their eight key and value types, 51 KB of the module's code (issue 13); a sorted
//! vector is a binary search and a `Vec`, and these hold at most a few thousand entries (an
//! authority's storage, one delivery's records), where moving memory on insert costs less than
//! a B-tree's nodes.

use std::borrow::Borrow;

/// A map ordered by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        let at = self.find(key).ok()?;
        self.entries.get(at).map(|(_, v)| v)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let at = self.find(key).ok()?;
        self.entries.get_mut(at).map(|(_, v)| v)
    }

    /// Inserts, returning the value the key had.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => self
                .entries
                .get_mut(at)
                .map(|(_, v)| std::mem::replace(v, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserted from `make` when absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.find(&key) {
            Ok(at) => at,
            Err(at) => {
                self.entries.insert(at, (key, make()));
                at
            }
        };
        // `at` is an index of the vector: found, or just inserted at.
        match self.entries.get_mut(at) {
            Some((_, v)) => v,
            None => unreachable!("an index just found or inserted"),
        }
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let at = self.find(key).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Entries in key order from the first key not less than `from`.
    pub fn iter_from<Q: Ord + ?Sized>(&self, from: &Q) -> impl Iterator<Item = (&K, &V)>
    where
        K: Borrow<Q>,
    {
        let start = self.find(from).unwrap_or_else(|at| at);
        self.entries
            .get(start..)
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.entries.into_iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// Collects in key order; of repeated keys the last value counts (as `BTreeMap` does).
impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut map = SortedMap::new();
        for (k, v) in items {
            map.insert(k, v);
        }
        map
    }
}

/// A set ordered by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedSet<T> {
    items: Vec<T>,
}

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet { items: Vec::new() }
    }
}

impl<T: Ord> SortedSet<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `item`; false when it was already there.
    pub fn insert(&mut self, item: T) -> bool {
        match self.items.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.items.insert(at, item);
                true
            }
        }
    }

    pub fn contains(&self, item: &T) -> bool {
        self.items.binary_search(item).is_ok()
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<T: Ord> Extend<T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.insert(item);
        }
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut set = SortedSet::new();
        set.extend(items);
        set
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'s, T> IntoIterator for &'s SortedSet<T> {
    type Item = &'s T;
    type IntoIter = std::slice::Iter<'s, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, T: crate::json::FromJson<'a> + Ord> crate::json::FromJson<'a> for SortedSet<T> {
    fn from_json(value: &crate::json::Value<'a>) -> Result<Self, crate::json::ShapeError> {
        Vec::<T>::from_json(value).map(|items| items.into_iter().collect())
    }
}

impl<T: crate::json::ToJson> crate::json::ToJson for SortedSet<T> {
    fn write_json(&self, out: &mut String) {
        self.items.as_slice().write_json(out);
    }
}

impl<T> crate::json::Skippable for SortedSet<T> {
    fn is_nothing(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn behaves_as_the_standard_b_trees_on_the_same_operations() {
        let mut mine = SortedMap::new();
        let mut std_map = BTreeMap::new();
        for i in 0..400u32 {
            let key = format!("k{}", i * 7919 % 97);
            assert_eq!(mine.insert(key.clone(), i), std_map.insert(key.clone(), i));
            if i % 5 == 0 {
                let gone = format!("k{}", i % 89);
                assert_eq!(mine.remove(gone.as_str()), std_map.remove(gone.as_str()));
            }
        }
        assert_eq!(mine.len(), std_map.len());
        let a: Vec<_> = mine.iter().collect();
        let b: Vec<_> = std_map.iter().collect();
        assert_eq!(a, b);
        let from: Vec<_> = mine.iter_from("k5").collect();
        let std_from: Vec<_> = std_map.range("k5".to_string()..).collect();
        assert_eq!(from, std_from);
        assert_eq!(mine.get("k3"), std_map.get("k3"));
        *mine.get_or_insert_with("new".into(), || 1) += 1;
        assert_eq!(mine.get("new"), Some(&2));
        let collected: SortedMap<_, _> = [("b", 1), ("a", 2), ("b", 3)].into_iter().collect();
        assert_eq!(
            collected.into_iter().collect::<Vec<_>>(),
            [("a", 2), ("b", 3)]
        );

        let mut set: SortedSet<u8> = [5, 1, 5, 3].into_iter().collect();
        let std_set: BTreeSet<u8> = [5, 1, 5, 3].into_iter().collect();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            std_set.iter().collect::<Vec<_>>()
        );
        assert!(!set.insert(3) && set.insert(4) && set.contains(&4));
        set.retain(|x| *x > 3);
        assert_eq!(set.into_iter().collect::<Vec<_>>(), [4, 5]);
    }
}
