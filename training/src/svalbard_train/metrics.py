"""The metrics every model card and report uses, one copy each.

* `auroc_ranks(pos, neg)`: Mann-Whitney AUROC in plain Python (ties count half), for the tools that run
  without numpy;
* `auroc(y, s)`, `tpr_at_fpr(y, s, f)`: the cards' AUROC (scikit-learn) and TPR at a false-positive rate
  (threshold from the human scores: the (floor(f*n)+1)-th highest, machine counted when strictly above it);
* `pick_threshold(human_scores, target)`: a card's decision threshold (machine when p >= t);
* `clopper_pearson_upper(k, n)`: one-sided upper bound of a binomial rate (scipy).

numpy, scipy and scikit-learn are imported by the functions that need them, so the module imports with the
standard library alone.
"""
from __future__ import annotations

import math


def auroc_ranks(pos, neg) -> float:
    """Mann-Whitney AUROC of `pos` (machine) above `neg` (human), ties counted half; nan when either is empty."""
    if not pos or not neg:
        return float("nan")
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i, n = 0.0, 0, len(allv)
    while i < n:  # average ranks over ties
        j = i
        while j < n and allv[j][0] == allv[i][0]:
            j += 1
        r = (i + j + 1) / 2.0
        rank_sum += r * sum(1 for k in range(i, j) if allv[k][1] == 1)
        i = j
    npos, nneg = len(pos), len(neg)
    return (rank_sum - npos * (npos + 1) / 2.0) / (npos * nneg)


def auroc(y, s) -> float:
    """AUROC of scores `s` for labels `y` (1 = machine); nan when `y` holds one class only."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(set(y.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(y, s))


def tpr_at_fpr(y, s, f) -> float:
    import numpy as np

    y = np.asarray(y)
    s = np.asarray(s, dtype=np.float64)
    h = np.sort(s[y == 0])[::-1]
    k = int(math.floor(f * len(h)))
    t = h[k] if k < len(h) else -np.inf
    return float((s[y == 1] > t).mean())


def pick_threshold(human_scores, target=0.01):
    """Lowest threshold t with mean(human_scores >= t) <= target (decision: p >= t), written with the
    fewest decimals (at least 4) that keep it at or below the next higher score: a model whose human
    scores crowd near 1 (0.99995...) would otherwise get t = 1.0 and flag nothing."""
    import numpy as np

    h = np.sort(np.asarray(human_scores, dtype=np.float64))[::-1]
    k = int(math.floor(target * len(h)))  # false positives allowed
    for decimals in range(4, 10):
        t = math.floor(h[k] * 10 ** decimals) / 10 ** decimals
        while t <= h[k]:  # strictly above the (k+1)-th highest score (a loop: float rounding)
            t = round(t + 10.0 ** -decimals, decimals)
        if k == 0 or t <= h[k - 1]:
            break
    # any lower value at this precision is <= h[k], i.e. would flag k+1 > target*n human texts
    assert t > h[k] and (h >= t).mean() <= target
    return t


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided upper bound of a binomial rate (k of n)."""
    from scipy.stats import beta

    if n == 0:
        return float("nan")
    return 1.0 if k >= n else float(beta.ppf(confidence, k + 1, n - k))
