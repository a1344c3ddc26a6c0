//! Work over many texts split into contiguous runs of about equal size,
//! one scoped thread per run, results kept in input order.
//!
//! Parsing a chart's templates and reading its rendered manifests' heads
//! both do this; neither is worth a thread pool crate, and both must keep
//! order and propagate a panic.

/// `work` over `items`, each weighing `weight(item)` bytes: on one thread
/// below `min_bytes` in total, otherwise on up to `max_threads` (and no
/// more than the machine has) contiguous runs of about equal weight.
pub fn map_in_runs<T, R>(
    items: &[T],
    weight: impl Fn(&T) -> usize,
    min_bytes: usize,
    max_threads: usize,
    work: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let total: usize = items.iter().map(&weight).sum();
    // Asked only for much text: the answer reads cgroup files, which costs
    // more than a small chart's whole render.
    let threads = if total < min_bytes {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(max_threads)
    };
    if threads < 2 {
        return work(items);
    }
    let per_thread = total.div_ceil(threads);
    let mut runs = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        size += weight(item);
        if size >= per_thread {
            runs.push(&items[start..=i]);
            (start, size) = (i + 1, 0);
        }
    }
    if start < items.len() {
        runs.push(&items[start..]);
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| scope.spawn(move || work(run)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::map_in_runs;

    #[test]
    fn keeps_order_on_one_thread_and_on_many() {
        let items: Vec<usize> = (0..1000).collect();
        let double = |run: &[usize]| run.iter().map(|i| i * 2).collect::<Vec<_>>();
        let expected: Vec<usize> = items.iter().map(|i| i * 2).collect();
        assert_eq!(map_in_runs(&items, |_| 1, usize::MAX, 4, double), expected);
        assert_eq!(map_in_runs(&items, |_| 1, 0, 4, double), expected);
    }
}
