"""svalbard_train.metrics: the pure-Python AUROC always; the numpy/scipy/scikit-learn ones when installed."""
import math
import random
import unittest

from svalbard_train import metrics


def have(*modules):
    try:
        for m in modules:
            __import__(m)
    except ImportError:
        return False
    return True


class PurePythonTest(unittest.TestCase):
    def test_auroc_ranks(self):
        self.assertEqual(metrics.auroc_ranks([3, 4], [1, 2]), 1.0)
        self.assertEqual(metrics.auroc_ranks([1, 2], [3, 4]), 0.0)
        self.assertEqual(metrics.auroc_ranks([1, 1], [1, 1]), 0.5)  # ties count half
        self.assertEqual(metrics.auroc_ranks([2, 1], [1, 0]), 0.875)
        self.assertTrue(math.isnan(metrics.auroc_ranks([], [1.0])))


@unittest.skipUnless(have("numpy", "scipy", "sklearn"), "numpy/scipy/scikit-learn missing: the `train` extra")
class NumpyTest(unittest.TestCase):
    def test_auroc_agrees_with_ranks(self):
        rng = random.Random(7)
        pos = [rng.random() + 0.2 for _ in range(300)] + [0.5] * 20
        neg = [rng.random() for _ in range(400)] + [0.5] * 30
        self.assertAlmostEqual(metrics.auroc([1] * len(pos) + [0] * len(neg), pos + neg),
                               metrics.auroc_ranks(pos, neg), places=12)
        self.assertTrue(math.isnan(metrics.auroc([0, 0], [0.1, 0.2])))

    def test_tpr_at_fpr(self):
        y = [0] * 100 + [1] * 4
        s = [i / 100 for i in range(100)] + [0.985, 0.995, 0.5, 1.5]
        # 1% of 100 humans: the threshold is the 2nd highest human score (0.98), machine strictly above it
        self.assertEqual(metrics.tpr_at_fpr(y, s, 0.01), 0.75)

    def test_pick_threshold(self):
        human = [i / 1000 for i in range(1000)]
        t = metrics.pick_threshold(human, 0.01)
        self.assertLessEqual(sum(h >= t for h in human), 10)
        self.assertGreater(sum(h >= t - 0.0001 for h in human), 10)  # the lowest at 4 decimals

    def test_clopper_pearson_upper(self):
        self.assertAlmostEqual(metrics.clopper_pearson_upper(0, 100), 1 - 0.05 ** (1 / 100), places=9)
        self.assertEqual(metrics.clopper_pearson_upper(5, 5), 1.0)
        self.assertTrue(math.isnan(metrics.clopper_pearson_upper(0, 0)))


if __name__ == "__main__":
    unittest.main()
