//! Parallel loops over items whose sizes differ by three orders of magnitude, heaviest first.
//!
//! The corpus holds 1.4 MB CRDs beside 200-byte ConfigMaps. Walked in input order, a worker
//! can pick a giant up last and the other worker idles until it is done: on two threads that
//! tail was a tenth of a stage. Started heaviest first, the last items any worker takes are
//! the small ones, so the workers finish together (longest-processing-time-first scheduling).
//!
//! Every item is its own rayon job (`with_max_len(1)`). Rayon's adaptive splitting otherwise
//! stops at about a quarter of the items per leaf on two threads unless work is stolen, and a
//! leaf runs sequentially: the first leaf, holding every giant, went to one worker and the
//! stage ran at one thread's speed (measured: output emission 40 ms wall for 44 ms of work).
//! A job costs well under a microsecond; the documents cost tens to thousands.
//!
//! Only the *order of work* changes: results come back in input order, so every output is the
//! same on any number of threads. The weights are estimates ([`crate::Document::weight`]: the
//! source lines a document spans, found without visiting every node); a wrong estimate costs
//! balance, never correctness.

use rayon::prelude::*;

/// Indices of `weights`, heaviest first; ties in index order (the order is deterministic).
pub fn heavy_first(weights: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut order: Vec<(usize, usize)> = weights.into_iter().enumerate().map(|(i, w)| (w, i)).collect();
    order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    order.into_iter().map(|(_, i)| i).collect()
}

/// `items.par_iter().map(f).collect()`, run heaviest first, results in input order.
pub fn map<T, R, W, F>(items: &[T], weight: W, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    W: Fn(&T) -> usize,
    F: Fn(&T) -> R + Sync + Send,
{
    let order = heavy_first(items.iter().map(weight));
    let mut done: Vec<(usize, R)> = order.into_par_iter().with_max_len(1).map(|i| (i, f(&items[i]))).collect();
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// `items.par_iter_mut().map(f).collect()`, run heaviest first, results in input order.
pub fn map_mut<T, R, W, F>(items: &mut [T], weight: W, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    W: Fn(&T) -> usize,
    F: Fn(&mut T) -> R + Sync + Send,
{
    let order = heavy_first(items.iter().map(weight));
    // One exclusive reference per item, placed in work order.
    let mut slots: Vec<Option<&mut T>> = items.iter_mut().map(Some).collect();
    let refs: Vec<(usize, &mut T)> = order.into_iter().filter_map(|i| slots[i].take().map(|r| (i, r))).collect();
    let mut done: Vec<(usize, R)> = refs.into_par_iter().with_max_len(1).map(|(i, t)| (i, f(t))).collect();
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heaviest_first_ties_in_index_order() {
        assert_eq!(heavy_first([3, 9, 1, 9, 0]), vec![1, 3, 0, 2, 4]);
        assert!(heavy_first(std::iter::empty()).is_empty());
    }

    #[test]
    fn results_in_input_order_on_any_pool() {
        let items: Vec<usize> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        let want: Vec<usize> = items.iter().map(|x| x * 2).collect();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            assert_eq!(pool.install(|| map(&items, |x| *x, |x| x * 2)), want);
            let mut m = items.clone();
            let r = pool.install(|| {
                map_mut(
                    &mut m,
                    |x| *x,
                    |x| {
                        *x += 1;
                        *x
                    },
                )
            });
            assert_eq!(r, items.iter().map(|x| x + 1).collect::<Vec<_>>());
            assert_eq!(m, r);
        }
    }
}
