//! Batched inference, the same for every model (classifiers, language models): rows of different lengths are
//! sorted by length so that a run pads little, cut into runs of `rows_per_run` rows, run in parallel on the
//! session pool, and handed back in row order. The model-specific parts (which tensors, which outputs) are the
//! caller's `run`.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Rows per ONNX run for a graph: `batch_size`, or one when the card says the graph is `batch_dependent` (a
/// row's output then depends on its batchmates, so only a run of its own makes a document's score its own).
pub fn rows_per_run(batch_dependent: bool, batch_size: usize) -> usize {
    if batch_dependent {
        1
    } else {
        batch_size.max(1)
    }
}

/// `run` over `rows` in runs of at most `rows_per_run` rows of similar `len` (a stable sort by length, so the
/// runs do not depend on the thread count); `run` returns one result per row it is given, in its order. The
/// results come back in the order of `rows`.
pub fn run_by_length<R, T>(
    rows: &[R],
    len: impl Fn(&R) -> usize,
    rows_per_run: usize,
    run: impl Fn(&[&R]) -> Result<Vec<T>> + Sync,
) -> Result<Vec<T>>
where
    R: Sync,
    T: Send,
{
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&r| len(&rows[r]));
    let runs: Vec<(&[usize], Vec<T>)> = order
        .par_chunks(rows_per_run.max(1))
        .map(|idx| {
            let batch: Vec<&R> = idx.iter().map(|&r| &rows[r]).collect();
            let out = run(&batch)?;
            if out.len() != idx.len() {
                return Err(Error::Model(format!("a run of {} rows returned {} results", idx.len(), out.len())));
            }
            Ok((idx, out))
        })
        .collect::<Result<_>>()?;
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(rows.len()).collect();
    for (idx, out) in runs {
        for (&r, value) in idx.iter().zip(out) {
            slots[r] = Some(value);
        }
    }
    Ok(slots.into_iter().map(|v| v.expect("every row is in exactly one run")).collect())
}

/// `rows` laid end to end as a row-major `[rows.len(), width]` matrix, each right-padded with `T::default()` to
/// the longest row (`width`, at least 1: a tensor dimension cannot be empty).
pub fn padded<T: Copy + Default>(rows: &[&[T]]) -> (Vec<T>, [usize; 2]) {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
    let mut out = vec![T::default(); rows.len() * width];
    for (k, row) in rows.iter().enumerate() {
        out[k * width..k * width + row.len()].copy_from_slice(row);
    }
    (out, [rows.len(), width])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_row_order_from_length_sorted_runs() {
        let rows: Vec<Vec<u8>> = vec![vec![0; 5], vec![0; 1], vec![0; 3], vec![0; 1], vec![0; 4]];
        let runs = std::sync::Mutex::new(Vec::new());
        let out = run_by_length(&rows, Vec::len, 2, |batch| {
            runs.lock().unwrap().push(batch.iter().map(|r| r.len()).collect::<Vec<_>>());
            Ok(batch.iter().map(|r| r.len() * 10).collect())
        })
        .unwrap();
        assert_eq!(out, [50, 10, 30, 10, 40]);
        let mut runs = runs.into_inner().unwrap();
        runs.sort();
        assert_eq!(runs, [vec![1, 1], vec![3, 4], vec![5]]);
    }

    #[test]
    fn a_run_that_loses_rows_is_an_error() {
        let rows = [1, 2, 3];
        let e = run_by_length(&rows, |&r| r, 3, |_| Ok(vec![0])).unwrap_err();
        assert!(e.to_string().contains("a run of 3 rows returned 1 results"), "{e}");
    }

    #[test]
    fn rows_are_right_padded_to_the_longest() {
        let (m, shape) = padded::<i64>(&[&[1, 2], &[3], &[]]);
        assert_eq!(shape, [3, 2]);
        assert_eq!(m, [1, 2, 3, 0, 0, 0]);
        assert_eq!(padded::<f32>(&[]).1, [0, 1]);
    }
}
