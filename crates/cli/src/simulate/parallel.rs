//! Seeds run on several threads and handed on in seed order, so a sweep's output and summary are
//! the same whatever `--jobs` says: each seed's run is deterministic and depends on nothing else.

use std::collections::VecDeque;
use std::num::NonZeroUsize;

/// Seeds each thread runs per batch: enough to keep the threads busy between the batch's
/// hand-overs, few enough that a batch's results (a few KB a seed) stay small.
const SEEDS_PER_JOB_PER_BATCH: u64 = 64;

/// The results of `run` for `count` seeds from `start`, in seed order, computed `jobs` at a time.
pub fn in_seed_order<R: Send>(
    start: u64,
    count: u64,
    jobs: NonZeroUsize,
    run: impl Fn(u64) -> R + Sync,
) -> impl Iterator<Item = R> {
    let end = start.saturating_add(count);
    let jobs = jobs.get();
    let batch = SEEDS_PER_JOB_PER_BATCH * jobs as u64;
    let mut next = start;
    let mut ready: VecDeque<R> = VecDeque::new();
    std::iter::from_fn(move || {
        if ready.is_empty() && next < end {
            let until = next.saturating_add(batch).min(end);
            ready = run_batch(next, until, jobs, &run);
            next = until;
        }
        ready.pop_front()
    })
}

/// Seeds `from..until`, striped over `jobs` threads, collected back in seed order.
fn run_batch<R: Send>(from: u64, until: u64, jobs: usize, run: &(impl Fn(u64) -> R + Sync)) -> VecDeque<R> {
    if jobs == 1 {
        return (from..until).map(run).collect();
    }
    let stripes: Vec<Vec<R>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs as u64)
            .map(|stripe| {
                scope.spawn(move || (from + stripe..until).step_by(jobs).map(run).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut stripes: Vec<std::vec::IntoIter<R>> = stripes.into_iter().map(Vec::into_iter).collect();
    let mut ordered = VecDeque::with_capacity(usize::try_from(until - from).unwrap_or(0));
    for index in 0..(until - from) as usize {
        let result = stripes[index % jobs].next().expect("each stripe holds every jobs-th seed");
        ordered.push_back(result);
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_seed_order_whatever_the_number_of_jobs() {
        let one: Vec<u64> = in_seed_order(5, 1000, NonZeroUsize::MIN, |seed| seed * 3).collect();
        let three: Vec<u64> =
            in_seed_order(5, 1000, NonZeroUsize::new(3).unwrap(), |seed| seed * 3).collect();
        assert_eq!(one, (5..1005).map(|seed| seed * 3).collect::<Vec<_>>());
        assert_eq!(three, one);
    }

    #[test]
    fn no_seed_is_run_beyond_the_count() {
        let seeds: Vec<u64> =
            in_seed_order(u64::MAX - 2, 10, NonZeroUsize::new(2).unwrap(), |seed| seed).collect();
        assert_eq!(seeds, vec![u64::MAX - 2, u64::MAX - 1]);
    }
}
