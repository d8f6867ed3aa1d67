//! Batches bounded by count and by bytes, so no message outgrows a frame.
//!
//! ```text
//!   items ──► [ first n: n ≤ max_count, Σ size ≤ max_bytes (or just the first item) ] ──► message
//! ```

/// How many of the first `items` one batch takes: at most `max_count`, and no more bytes (by
/// `size`) than `max_bytes`, except that a batch always takes the first item (a single item
/// fits a frame: the configuration checks it).
pub fn batch_len<T>(
    items: &[T],
    max_count: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> usize {
    within_bytes(items.iter().take(max_count.max(1)), max_bytes, |t| size(t)).count()
}

/// The first items of `items` whose sizes add up to at most `max_bytes` (the first one
/// whatever its size).
pub fn within_bytes<I: Iterator>(
    items: I,
    max_bytes: usize,
    size: impl Fn(&I::Item) -> usize,
) -> impl Iterator<Item = I::Item> {
    let mut bytes = 0usize;
    items.enumerate().map_while(move |(i, item)| {
        bytes = bytes.saturating_add(size(&item));
        (i == 0 || bytes <= max_bytes).then_some(item)
    })
}

/// `items` cut into consecutive batches of [`batch_len`] (copies of them: see
/// [`into_batches`] to move them instead).
pub fn batches<T: Clone>(
    items: &[T],
    max_count: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    into_batches(items.to_vec(), max_count, max_bytes, size)
}

/// Owned `items` cut into consecutive batches of [`batch_len`]: the items move into the
/// batches (no clone of a command, and one batch, the common case, is `items` itself).
pub fn into_batches<T>(
    mut items: Vec<T>,
    max_count: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    while !items.is_empty() {
        let n = batch_len(&items, max_count, max_bytes, &size);
        let rest = items.split_off(n);
        out.push(std::mem::replace(&mut items, rest));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stop_at_the_count_or_the_bytes_and_always_take_one() {
        let sizes = [10, 10, 10, 50, 10];
        let id = |s: &usize| *s;
        assert_eq!(batch_len(&sizes, 2, 1000, id), 2, "count");
        assert_eq!(batch_len(&sizes, 10, 30, id), 3, "bytes");
        assert_eq!(
            batch_len(&sizes[3..], 10, 30, id),
            1,
            "one item over the budget"
        );
        assert_eq!(batch_len(&[] as &[usize], 10, 30, id), 0);
        assert_eq!(
            batches(&sizes, 10, 30, id),
            vec![vec![10, 10, 10], vec![50], vec![10]]
        );
    }

    #[test]
    fn owned_items_move_into_the_same_batches() {
        let sizes: Vec<usize> = vec![10, 10, 10, 50, 10, 5, 5, 5];
        let cut = |count, bytes| into_batches(sizes.clone(), count, bytes, |s: &usize| *s);
        assert_eq!(
            cut(2, 1000),
            vec![vec![10, 10], vec![10, 50], vec![10, 5], vec![5, 5]]
        );
        assert_eq!(
            cut(10, 30),
            vec![vec![10, 10, 10], vec![50], vec![10, 5, 5, 5]]
        );
        assert_eq!(cut(1, 1).len(), sizes.len(), "one item each");
        assert_eq!(cut(100, 1000), vec![sizes.clone()], "all in one");
        assert!(into_batches(Vec::<usize>::new(), 2, 10, |s| *s).is_empty());
    }
}
