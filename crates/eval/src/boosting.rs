//! Gradient-boosted decision trees with the logistic loss, for combining detector signals where a linear
//! model cannot: a signal's evidence that depends on another (the `fast` score means less on a 20-word
//! text than on a 500-word one), or a heuristic that is informative only in part of its range.
//!
//! Newton boosting as in XGBoost / LightGBM, kept small and deterministic:
//!
//! ```text
//! F_0 = log(Σ s_i y_i / Σ s_i (1 − y_i))                    (weighted prior log-odds)
//! g_i = s_i (p_i − y_i),  h_i = s_i p_i (1 − p_i),           p_i = σ(F(x_i))
//! node value  v = −η · G / (H + λ)                           (G, H: sums over the node's rows)
//! split gain  = G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ)
//! ```
//!
//! Each feature is cut at up to `max_bins − 1` thresholds placed at quantiles of its training values; a
//! split sends `x <= threshold` left. Trees grow depth-first to `max_depth`; a split needs
//! `min_samples_leaf` rows on each side. Every node, leaves and splits alike, stores its Newton value, so
//! the prediction decomposes exactly into per-feature terms (Saabas' path attribution): walking from the
//! root to a leaf, the change of value at each split is credited to the split's feature. Those terms are
//! the ensemble's reasons ("which signals drove it"). A NaN feature goes right (`NaN <= t` is false);
//! the ensemble fills NaN before it gets here.

use serde::{Deserialize, Serialize};

use super::logistic::sigmoid;
use super::{check_training_data, EvalError, Result};

/// Fitting options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoostingOptions {
    pub n_trees: usize,
    /// Shrinkage η applied to every node value.
    pub learning_rate: f64,
    pub max_depth: usize,
    /// Least number of training rows on each side of a split.
    pub min_samples_leaf: usize,
    /// L2 penalty λ on node values.
    pub l2: f64,
    /// At most this many bins per feature (thresholds = bins − 1), at most 256.
    pub max_bins: usize,
}

impl Default for BoostingOptions {
    fn default() -> Self {
        BoostingOptions { n_trees: 300, learning_rate: 0.05, max_depth: 5, min_samples_leaf: 20, l2: 1.0, max_bins: 64 }
    }
}

/// A tree node, stored in a flat vector (the root at 0). `value` is the node's Newton value (already
/// multiplied by the learning rate): a leaf's is the prediction, a split's serves the attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Node {
    Split { feature: usize, threshold: f64, left: usize, right: usize, value: f64 },
    Leaf { value: f64 },
}

impl Node {
    fn value(&self) -> f64 {
        match *self {
            Node::Split { value, .. } | Node::Leaf { value } => value,
        }
    }
}

/// A fitted model: `P(machine) = σ(base + Σ_trees leaf value)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientBoosting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
    pub n_features: usize,
    pub base: f64,
    pub trees: Vec<Vec<Node>>,
    pub options: BoostingOptions,
    /// The trees laid out for prediction, built on first use.
    #[serde(skip)]
    flat: FlatCache,
}

/// The deepest forest [`FlatTrees`] lays out (a complete tree of this depth has 2^depth leaves).
const FLAT_MAX_DEPTH: u32 = 10;

/// The trees laid out for prediction: each a complete binary tree of the forest's depth, its split thresholds
/// and features in breadth-first arrays (node p's children are 2p+1 and 2p+2) and its leaf values after them. A
/// leaf above the bottom is padded by splits whose two sides lead to copies of it, so every path has the same
/// length and a step is a comparison, not a branch. As `Vec<Node>` a 300-tree policy spread over 900 KB, read by
/// unpredictable branches; laid out flat it takes a fifth of that. Predictions are the same to the bit: the same
/// comparison (`x <= threshold` goes left, NaN right) picks the same leaf, and the leaf values are summed in the
/// same order.
#[derive(Debug, Clone)]
struct FlatTrees {
    depth: u32,
    thresholds: Vec<f64>,
    features: Vec<u32>,
    leaves: Vec<f64>,
}

impl FlatTrees {
    /// None when a tree is deeper than [`FLAT_MAX_DEPTH`] (the trees are then walked as they are).
    fn new(trees: &[Vec<Node>]) -> Option<Self> {
        fn depth(t: &[Node], i: usize) -> u32 {
            match t[i] {
                Node::Split { left, right, .. } => 1 + depth(t, left).max(depth(t, right)),
                Node::Leaf { .. } => 0,
            }
        }
        let d = trees.iter().map(|t| depth(t, 0)).max().unwrap_or(0);
        if d > FLAT_MAX_DEPTH {
            return None;
        }
        let (inner, leaves) = ((1usize << d) - 1, 1usize << d);
        let mut flat = FlatTrees {
            depth: d,
            thresholds: vec![f64::INFINITY; inner * trees.len()],
            features: vec![0; inner * trees.len()],
            leaves: vec![0.0; leaves * trees.len()],
        };
        fn place(flat: &mut FlatTrees, t: &[Node], k: usize, node: usize, p: usize, level: u32) {
            let (inner, leaves) = ((1usize << flat.depth) - 1, 1usize << flat.depth);
            if level == flat.depth {
                flat.leaves[k * leaves + p - inner] = t[node].value();
                return;
            }
            let (left, right) = match t[node] {
                Node::Split { feature, threshold, left, right, .. } => {
                    flat.thresholds[k * inner + p] = threshold;
                    flat.features[k * inner + p] = feature as u32;
                    (left, right)
                }
                // Padding: both sides lead to this leaf.
                Node::Leaf { .. } => (node, node),
            };
            place(flat, t, k, left, 2 * p + 1, level + 1);
            place(flat, t, k, right, 2 * p + 2, level + 1);
        }
        for (k, t) in trees.iter().enumerate() {
            place(&mut flat, t, k, 0, 0, 0);
        }
        Some(flat)
    }

    /// Each tree's leaf value for `row`, in tree order.
    fn leaf_values<'a>(&'a self, row: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        let (inner, leaves) = ((1usize << self.depth) - 1, 1usize << self.depth);
        (0..self.leaves.len() / leaves).map(move |k| {
            let (thresholds, features) = (&self.thresholds[k * inner..], &self.features[k * inner..]);
            let mut p = 0;
            for _ in 0..self.depth {
                // Left (2p + 1) when x <= threshold; right (2p + 2) otherwise, NaN included.
                p = 2 * p + 2 - usize::from(row[features[p] as usize] <= thresholds[p]);
            }
            self.leaves[k * leaves + p - inner]
        })
    }
}

/// [`FlatTrees`] once built; equal to any other (it is derived from the trees, which the comparison covers).
#[derive(Debug, Clone, Default)]
struct FlatCache(std::sync::OnceLock<Option<FlatTrees>>);

impl PartialEq for FlatCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Column-major bin indices of the training rows, and each feature's thresholds.
struct Binned {
    bins: Vec<Vec<u8>>,
    thresholds: Vec<Vec<f64>>,
}

impl Binned {
    fn new<R: AsRef<[f64]>>(x: &[R], d: usize, max_bins: usize) -> Binned {
        let mut bins = Vec::with_capacity(d);
        let mut thresholds = Vec::with_capacity(d);
        for j in 0..d {
            let mut v: Vec<f64> = x.iter().map(|r| r.as_ref()[j]).filter(|v| !v.is_nan()).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            // Cut between distinct values at (about) equal-count positions of the distinct values: with many
            // distinct values these are quantiles; with few, every gap is a candidate.
            let t: Vec<f64> = if v.len() <= max_bins {
                v.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect()
            } else {
                let mut t: Vec<f64> = (1..max_bins)
                    .map(|k| {
                        let i = k * v.len() / max_bins;
                        v[i - 1] + (v[i] - v[i - 1]) / 2.0
                    })
                    .collect();
                t.dedup();
                t
            };
            // bin = number of thresholds below x, so `bin <= b` exactly when `x <= t[b]`; NaN lands last.
            bins.push(
                x.iter()
                    .map(|r| {
                        let xv = r.as_ref()[j];
                        if xv.is_nan() {
                            t.len() as u8
                        } else {
                            t.partition_point(|&tk| tk < xv) as u8
                        }
                    })
                    .collect(),
            );
            thresholds.push(t);
        }
        Binned { bins, thresholds }
    }
}

struct Builder<'a> {
    binned: &'a Binned,
    grad: &'a [f64],
    hess: &'a [f64],
    opts: &'a BoostingOptions,
    nodes: Vec<Node>,
    /// Each training row's leaf value in the tree being built.
    out: &'a mut [f64],
}

impl Builder<'_> {
    fn value(&self, g: f64, h: f64) -> f64 {
        -self.opts.learning_rate * g / (h + self.opts.l2)
    }

    /// Grow the subtree over `rows`; returns its node index.
    fn grow(&mut self, rows: &mut [u32], depth: usize) -> usize {
        let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &i| (g + self.grad[i as usize], h + self.hess[i as usize]));
        let value = self.value(g, h);
        let me = self.nodes.len();
        self.nodes.push(Node::Leaf { value });
        let split = if depth < self.opts.max_depth && rows.len() >= 2 * self.opts.min_samples_leaf {
            self.best_split(rows, g, h)
        } else {
            None
        };
        let Some((feature, bin)) = split else {
            for &i in rows.iter() {
                self.out[i as usize] = value;
            }
            return me;
        };
        let col = &self.binned.bins[feature];
        // Stable partition: rows with bin <= `bin` first.
        let (mut l, r): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&i| col[i as usize] as usize <= bin);
        let nl = l.len();
        l.extend(r);
        rows.copy_from_slice(&l);
        let (left_rows, right_rows) = rows.split_at_mut(nl);
        let left = self.grow(left_rows, depth + 1);
        let right = self.grow(right_rows, depth + 1);
        self.nodes[me] = Node::Split { feature, threshold: self.binned.thresholds[feature][bin], left, right, value };
        me
    }

    /// The (feature, bin) split of highest gain, if any gains.
    fn best_split(&self, rows: &[u32], g: f64, h: f64) -> Option<(usize, usize)> {
        let lambda = self.opts.l2;
        let parent = g * g / (h + lambda);
        let min_leaf = self.opts.min_samples_leaf;
        let mut best: Option<(f64, usize, usize)> = None;
        for (j, col) in self.binned.bins.iter().enumerate() {
            let n_thr = self.binned.thresholds[j].len();
            if n_thr == 0 {
                continue;
            }
            let mut hg = vec![0.0f64; n_thr + 1];
            let mut hh = vec![0.0f64; n_thr + 1];
            let mut hn = vec![0usize; n_thr + 1];
            for &i in rows {
                let b = col[i as usize] as usize;
                hg[b] += self.grad[i as usize];
                hh[b] += self.hess[i as usize];
                hn[b] += 1;
            }
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0usize);
            for b in 0..n_thr {
                gl += hg[b];
                hl += hh[b];
                nl += hn[b];
                let nr = rows.len() - nl;
                if nl < min_leaf {
                    continue;
                }
                if nr < min_leaf {
                    break;
                }
                let (gr, hr) = (g - gl, h - hl);
                let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
                // Strictly greater: ties keep the first feature and the lowest threshold (deterministic).
                if gain > 1e-12 && best.is_none_or(|(bg, _, _)| gain > bg) {
                    best = Some((gain, j, b));
                }
            }
        }
        best.map(|(_, j, b)| (j, b))
    }
}

impl GradientBoosting {
    /// Fit on rows `x` (all of the same length), labels `y` (true = machine), optional sample weights.
    pub fn fit_weighted<R: AsRef<[f64]>>(
        x: &[R],
        y: &[bool],
        weights: Option<&[f64]>,
        opts: &BoostingOptions,
    ) -> Result<Self> {
        if !(opts.learning_rate > 0.0 && opts.l2 >= 0.0 && (2..=256).contains(&opts.max_bins)) {
            return Err(EvalError::InvalidArgument(format!("boosting options {opts:?}")));
        }
        let (d, pos, neg) = check_training_data(x, y, weights)?;
        if pos <= 0.0 || neg <= 0.0 {
            return Err(EvalError::Undefined("boosting needs weight on both classes"));
        }
        let n = x.len();
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        let base = (pos / neg).ln();
        let binned = Binned::new(x, d, opts.max_bins);
        let mut raw = vec![base; n];
        let mut grad = vec![0.0; n];
        let mut hess = vec![0.0; n];
        let mut leaf = vec![0.0; n];
        let mut trees = Vec::with_capacity(opts.n_trees);
        let mut rows: Vec<u32> = (0..n as u32).collect();
        for _ in 0..opts.n_trees {
            for i in 0..n {
                let p = sigmoid(raw[i]);
                grad[i] = w(i) * (p - y[i] as u8 as f64);
                hess[i] = w(i) * (p * (1.0 - p)).max(1e-12);
            }
            rows.iter_mut().enumerate().for_each(|(i, r)| *r = i as u32);
            let mut b = Builder { binned: &binned, grad: &grad, hess: &hess, opts, nodes: Vec::new(), out: &mut leaf };
            b.grow(&mut rows, 0);
            trees.push(b.nodes);
            raw.iter_mut().zip(&leaf).for_each(|(r, l)| *r += l);
        }
        Ok(GradientBoosting {
            feature_names: None,
            n_features: d,
            base,
            trees,
            options: opts.clone(),
            flat: FlatCache::default(),
        })
    }

    pub fn with_feature_names(mut self, names: Vec<String>) -> Self {
        self.feature_names = Some(names);
        self
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Log-odds of machine. Panics if `row.len() != n_features()`.
    pub fn decision_function(&self, row: &[f64]) -> f64 {
        assert_eq!(row.len(), self.n_features, "feature count mismatch");
        match self.flat.0.get_or_init(|| FlatTrees::new(&self.trees)) {
            Some(flat) => self.base + flat.leaf_values(row).sum::<f64>(),
            None => self.base + self.trees.iter().map(|t| t[leaf_of(t, row)].value()).sum::<f64>(),
        }
    }

    /// Each feature's share of the log-odds (Saabas): with `bias()`, they sum to `decision_function(row)`.
    pub fn contributions(&self, row: &[f64]) -> Vec<f64> {
        assert_eq!(row.len(), self.n_features, "feature count mismatch");
        let mut c = vec![0.0; self.n_features];
        for t in &self.trees {
            let mut i = 0;
            while let Node::Split { feature, threshold, left, right, value } = t[i] {
                i = if row[feature] <= threshold { left } else { right };
                c[feature] += t[i].value() - value;
            }
        }
        c
    }

    /// The part of every prediction no feature accounts for: the prior log-odds plus each tree's root value.
    pub fn bias(&self) -> f64 {
        self.base + self.trees.iter().map(|t| t[0].value()).sum::<f64>()
    }

    /// Structural check of a loaded model: child indices in range and pointing forward (no cycles),
    /// split features in range.
    pub fn check(&self) -> std::result::Result<(), String> {
        for (k, t) in self.trees.iter().enumerate() {
            if t.is_empty() {
                return Err(format!("tree {k} is empty"));
            }
            for (i, node) in t.iter().enumerate() {
                if let Node::Split { feature, left, right, threshold, .. } = *node {
                    if feature >= self.n_features || left <= i || right <= i || left >= t.len() || right >= t.len() {
                        return Err(format!("tree {k} node {i} is malformed"));
                    }
                    if threshold.is_nan() {
                        return Err(format!("tree {k} node {i} has a NaN threshold"));
                    }
                }
            }
        }
        Ok(())
    }
}

fn leaf_of(t: &[Node], row: &[f64]) -> usize {
    let mut i = 0;
    while let Node::Split { feature, threshold, left, right, .. } = t[i] {
        i = if row[feature] <= threshold { left } else { right };
    }
    i
}

#[cfg(test)]
mod tests {
    use super::super::metrics::auroc;
    use super::super::testutil::Rng;
    use super::*;
    use crate::{LogisticOptions, LogisticRegression};

    fn xor_data(n: usize, seed: u64) -> (Vec<[f64; 3]>, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a = rng.uniform() * 2.0 - 1.0;
            let b = rng.uniform() * 2.0 - 1.0;
            let noise = rng.uniform();
            x.push([a, b, noise]);
            y.push((a > 0.0) != (b > 0.0));
        }
        (x, y)
    }

    #[test]
    fn learns_an_interaction_a_linear_model_cannot() {
        let (x, y) = xor_data(2000, 1);
        let (xt, yt) = xor_data(1000, 2);
        let gb = GradientBoosting::fit_weighted(&x, &y, None, &BoostingOptions::default()).unwrap();
        let lr = LogisticRegression::fit(&x, &y, &LogisticOptions::default()).unwrap();
        let s_gb: Vec<f64> = xt.iter().map(|r| gb.decision_function(r)).collect();
        let s_lr: Vec<f64> = xt.iter().map(|r| lr.decision_function(r)).collect();
        let (a_gb, a_lr) = (auroc(&s_gb, &yt).unwrap(), auroc(&s_lr, &yt).unwrap());
        assert!(a_gb > 0.98, "boosting AUROC {a_gb}");
        assert!(a_lr < 0.6, "logistic AUROC {a_lr}");
        // The noise feature is never worth much.
        let c: Vec<Vec<f64>> = xt.iter().map(|r| gb.contributions(r)).collect();
        let mean_abs = |j: usize| c.iter().map(|r| r[j].abs()).sum::<f64>() / c.len() as f64;
        assert!(mean_abs(2) < 0.25 * mean_abs(0).min(mean_abs(1)), "{} {} {}", mean_abs(0), mean_abs(1), mean_abs(2));
    }

    /// The flat layout predicts what walking the trees predicts, to the bit: on fitted forests of every depth up
    /// to 7 (shallow leaves padded), on rows at the split thresholds exactly, beside them, and NaN.
    #[test]
    fn flat_trees_predict_what_the_tree_walk_predicts() {
        for (max_depth, seed) in [(1, 11), (2, 12), (3, 13), (5, 14), (7, 15)] {
            let (x, y) = xor_data(800, seed);
            let opts = BoostingOptions { n_trees: 40, max_depth, min_samples_leaf: 5, ..Default::default() };
            let gb = GradientBoosting::fit_weighted(&x, &y, None, &opts).unwrap();
            assert!(gb.trees.iter().any(|t| t.iter().any(|n| matches!(n, Node::Split { .. }))));
            let walk = |r: &[f64]| gb.base + gb.trees.iter().map(|t| t[leaf_of(t, r)].value()).sum::<f64>();
            let thresholds: Vec<f64> = gb
                .trees
                .iter()
                .flatten()
                .filter_map(|n| match n {
                    Node::Split { threshold, .. } => Some(*threshold),
                    Node::Leaf { .. } => None,
                })
                .collect();
            let mut rng = Rng::new(seed);
            let pick = |rng: &mut Rng| -> f64 {
                let t = thresholds[(rng.uniform() * thresholds.len() as f64) as usize % thresholds.len()];
                match (rng.uniform() * 5.0) as usize {
                    0 => t,
                    1 => t + 1e-12,
                    2 => t - 1e-12,
                    3 => f64::NAN,
                    _ => rng.uniform() * 2.0 - 1.0,
                }
            };
            for _ in 0..2000 {
                let row = [pick(&mut rng), pick(&mut rng), pick(&mut rng)];
                assert_eq!(gb.decision_function(&row).to_bits(), walk(&row).to_bits(), "depth {max_depth}: {row:?}");
            }
        }
    }

    #[test]
    fn contributions_and_bias_sum_to_the_log_odds() {
        let (x, y) = xor_data(500, 3);
        let gb = GradientBoosting::fit_weighted(&x, &y, None, &BoostingOptions { n_trees: 20, ..Default::default() })
            .unwrap();
        for r in x.iter().take(50) {
            let total = gb.bias() + gb.contributions(r).iter().sum::<f64>();
            assert!((total - gb.decision_function(r)).abs() < 1e-9);
        }
    }

    #[test]
    fn one_stump_by_hand() {
        // x <= 2 → human, x >= 3 → machine; one depth-1 tree, λ = 0, η = 1.
        let x: Vec<[f64; 1]> = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0].iter().map(|&v| [v]).collect();
        let y = [false, false, false, true, true, true];
        let opts = BoostingOptions {
            n_trees: 1,
            learning_rate: 1.0,
            max_depth: 1,
            min_samples_leaf: 1,
            l2: 0.0,
            max_bins: 64,
        };
        let gb = GradientBoosting::fit_weighted(&x, &y, None, &opts).unwrap();
        assert_eq!(gb.base, 0.0); // 3 vs 3
        let t = &gb.trees[0];
        // p = 0.5 everywhere: g = ±0.5, h = 0.25; each side: −G/H = ∓1.5/0.75 = ∓2; the root: 0.
        match t[0] {
            Node::Split { feature: 0, threshold, left, right, value } => {
                assert_eq!(threshold, 2.5);
                assert_eq!(value, 0.0);
                assert!((t[left].value() + 2.0).abs() < 1e-12 && (t[right].value() - 2.0).abs() < 1e-12);
            }
            ref n => panic!("expected a split at the root, got {n:?}"),
        }
        assert!((gb.decision_function(&[2.5]) + 2.0).abs() < 1e-12); // x <= threshold goes left
        assert!((gb.decision_function(&[2.6]) - 2.0).abs() < 1e-12);
        assert_eq!(gb.contributions(&[10.0]), vec![2.0]);
    }

    #[test]
    fn weights_shift_the_prior() {
        let x: Vec<[f64; 1]> = vec![[0.0]; 4];
        let y = [true, false, false, false];
        let opts = BoostingOptions { n_trees: 0, ..Default::default() };
        let plain = GradientBoosting::fit_weighted(&x, &y, None, &opts).unwrap();
        assert!((plain.base - (1.0f64 / 3.0).ln()).abs() < 1e-12);
        let balanced = GradientBoosting::fit_weighted(&x, &y, Some(&[3.0, 1.0, 1.0, 1.0]), &opts).unwrap();
        assert!(balanced.base.abs() < 1e-12);
    }

    #[test]
    fn round_trips_through_json_and_checks_structure() {
        let (x, y) = xor_data(300, 4);
        let gb = GradientBoosting::fit_weighted(&x, &y, None, &BoostingOptions { n_trees: 5, ..Default::default() })
            .unwrap()
            .with_feature_names(vec!["a".into(), "b".into(), "noise".into()]);
        let back: GradientBoosting = serde_json::from_str(&serde_json::to_string(&gb).unwrap()).unwrap();
        assert_eq!(back, gb);
        assert!(back.check().is_ok());
        let mut bad = gb.clone();
        bad.trees[0][0] = Node::Split { feature: 0, threshold: 0.0, left: 0, right: 0, value: 0.0 };
        assert!(bad.check().is_err());
    }

    #[test]
    fn rejects_bad_input() {
        let x: Vec<[f64; 1]> = vec![[0.0], [1.0]];
        assert!(GradientBoosting::fit_weighted(&x, &[true, true], None, &BoostingOptions::default()).is_err());
        assert!(GradientBoosting::fit_weighted(&x, &[true], None, &BoostingOptions::default()).is_err());
        let bad = BoostingOptions { max_bins: 1000, ..Default::default() };
        assert!(GradientBoosting::fit_weighted(&x, &[true, false], None, &bad).is_err());
    }
}
