//! The module's one sort. The standard library's sorts are compiled anew for every element
//! type and comparison they are used with (about ten functions each): fourteen call sites made
//! 65 KB of the module's code (issue 13). Here the sorting itself is compiled once, over
//! positions with a comparison passed by reference; each call site adds only its key and a
//! reordering.

use std::cmp::Ordering;

/// Sorts `items` by `key`, stably (equal keys keep their order), as `slice::sort_by_key`.
pub fn by_key<T, K: Ord>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` in their own order, stably.
pub fn natural<T: Ord>(items: &mut Vec<T>) {
    by(items, T::cmp);
}

/// Sorts `items` by a comparison, stably, as `slice::sort_by`.
pub fn by<T>(items: &mut Vec<T>, compare: impl Fn(&T, &T) -> Ordering) {
    let order = {
        let items: &[T] = items;
        stable_order(items.len(), &|a, b| match (items.get(a), items.get(b)) {
            (Some(a), Some(b)) => compare(a, b),
            _ => Ordering::Equal,
        })
    };
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(
        order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take)),
    );
}

/// The positions `0..n` in sorted order: the one instance of the standard sort.
fn stable_order(n: usize, compare: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| compare(*a, *b));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_key_keeping_equal_keys_in_order() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        by_key(&mut v, |p| p.0);
        assert_eq!(v, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut words = vec!["pear".to_string(), "apple".into(), "fig".into()];
        natural(&mut words);
        assert_eq!(words, ["apple", "fig", "pear"]);
        let mut empty: Vec<u8> = Vec::new();
        natural(&mut empty);
        assert!(empty.is_empty());
        // Against the standard sort, on a longer list with many ties.
        let mut mine: Vec<(u8, usize)> = (0..500).map(|i| ((i * 7919 % 13) as u8, i)).collect();
        let mut std_sorted = mine.clone();
        std_sorted.sort_by_key(|p| p.0);
        by_key(&mut mine, |p| p.0);
        assert_eq!(mine, std_sorted);
    }
}
