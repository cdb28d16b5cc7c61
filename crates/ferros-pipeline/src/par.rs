//! Work shared among the machine's cores (at most 8), by rows: the
//! results are the same whatever the number of cores.

/// The cores to use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

/// Calls `f(row, slice)` on each `width`-long row of `data`, rows split
/// among the cores in contiguous runs.
pub fn chunks<T: Send>(data: &mut [T], width: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let rows = data.len() / width.max(1);
    let per = rows.div_ceil(cores()).max(1);
    std::thread::scope(|s| {
        for (n, part) in data.chunks_mut(per * width.max(1)).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (k, row) in part.chunks_mut(width.max(1)).enumerate() {
                    f(n * per + k, row);
                }
            });
        }
    });
}

/// As [`chunks`], over two arrays of the same shape at once.
pub fn rows<T: Send, U: Send>(
    a: &mut [T],
    b: &mut [U],
    width: usize,
    f: impl Fn(usize, &mut [T], &mut [U]) + Sync,
) {
    let w = width.max(1);
    let rows = a.len() / w;
    let per = rows.div_ceil(cores()).max(1);
    std::thread::scope(|s| {
        for (n, (pa, pb)) in a.chunks_mut(per * w).zip(b.chunks_mut(per * w)).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (k, (ra, rb)) in pa.chunks_mut(w).zip(pb.chunks_mut(w)).enumerate() {
                    f(n * per + k, ra, rb);
                }
            });
        }
    });
}

/// Calls `f(start, slice)` on runs of at most `size` elements of `data`
/// (`start`: the run's first index), runs split among the cores.
pub fn chunks_indexed<T: Send>(data: &mut [T], size: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let size = size.max(1);
    let runs = data.len().div_ceil(size);
    let per = runs.div_ceil(cores()).max(1) * size;
    std::thread::scope(|s| {
        for (n, part) in data.chunks_mut(per).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (k, run) in part.chunks_mut(size).enumerate() {
                    f(n * per + k * size, run);
                }
            });
        }
    });
}
