"""svalbard_train.smollm.cascade: the stratified sample and what counts as flagged (stdlib only)."""
import collections
import unittest

from svalbard_train.smollm import cascade


def rows():
    out = []
    for source, label, family, n in [("a", "human", "human", 50), ("a", "machine", "openai", 3),
                                     ("b", "machine", "openai", 20), ("b", "machine", "google", 20)]:
        out += [{"source": source, "label": label, "family": family, "i": i} for i in range(n)]
    return out


class SampleTest(unittest.TestCase):
    def test_caps_every_stratum_and_keeps_small_ones_whole(self):
        picked, taken = cascade.stratified(rows(), 10)
        counts = collections.Counter((r["source"], r["label"], r["family"]) for r in picked)
        self.assertEqual(counts, {("a", "human", "human"): 10, ("a", "machine", "openai"): 3,
                                  ("b", "machine", "openai"): 10, ("b", "machine", "google"): 10})
        self.assertEqual(taken, counts)

    def test_the_same_seed_draws_the_same_rows(self):
        self.assertEqual(cascade.stratified(rows(), 7)[0], cascade.stratified(rows(), 7)[0])
        self.assertNotEqual(cascade.stratified(rows(), 7, seed=1)[0], cascade.stratified(rows(), 7)[0])


    def test_a_larger_cap_draws_a_superset(self):
        # `more` writes only what the larger draw adds: the smaller draw must be inside it.
        small = {r["i"] for r in cascade.stratified(rows(), 7)[0] if r["label"] == "human"}
        large = {r["i"] for r in cascade.stratified(rows(), 30)[0] if r["label"] == "human"}
        self.assertEqual(len(small), 7)
        self.assertEqual(len(large), 30)
        self.assertTrue(small < large)


class PerSourceThresholdTest(unittest.TestCase):
    def test_each_human_source_holds_its_budget(self):
        scored = [{"label": "human", "source": "a", "x": float(v)} for v in range(100)]
        scored += [{"label": "human", "source": "b", "x": float(v)} for v in range(10)]
        scored += [{"label": "machine", "source": "m", "x": 1000.0}]
        # a (100 documents) may have one flagged: above 98; b (10) none: above 9. The stricter wins.
        self.assertEqual(cascade.per_source_threshold(scored, "x", 1), 98.0)
        self.assertEqual(cascade.per_source_threshold(scored[:100], "x", 1), 98.0)
        # Lower = machine: the sign turns the scale.
        self.assertEqual(cascade.per_source_threshold(scored[:100], "x", -1), -1.0)


class FlaggedTest(unittest.TestCase):
    def test_the_ensemble_rule_among_the_reasons(self):
        self.assertTrue(cascade.flagged({"reasons": "c4.too_few_sentences,ensemble.machine(fast_p_machine=+2.1)"}))
        self.assertFalse(cascade.flagged({"reasons": "fineweb.short_lines"}))
        self.assertFalse(cascade.flagged({"reasons": None}))
        self.assertTrue(cascade.flagged({"reasons": ["ensemble.machine(x=+1)"]}))


if __name__ == "__main__":
    unittest.main()
