"""STAPLE against SimpleITK's STAPLEImageFilter, and the consensus datasets."""

from __future__ import annotations

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK")

from segmill.agree import consensus, staple_binary  # noqa: E402
from segmill.agree.staple import staple_patterns  # noqa: E402
from segmill.geometry import Box, Mask  # noqa: E402
from segmill.model import Annotation, Category, Dataset, Item  # noqa: E402


def _raters(seed, shape=(37, 53)):
    rng = np.random.default_rng(seed)
    truth = rng.random(shape) < rng.uniform(0.1, 0.5)
    m = int(rng.integers(2, 6))
    out = []
    for _ in range(m):
        sens, spec = rng.uniform(0.6, 0.99), rng.uniform(0.8, 0.999)
        out.append(np.where(truth, rng.random(shape) < sens, rng.random(shape) > spec))
    return np.array(out)


def _sitk_staple(masks):
    f = sitk.STAPLEImageFilter()
    f.SetForegroundValue(1.0)
    out = f.Execute([sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks])
    return sitk.GetArrayFromImage(out), np.array(f.GetSensitivity()), np.array(f.GetSpecificity())


@pytest.mark.parametrize("seed", range(5))
def test_binary_staple_equals_simpleitk(seed):
    masks = _raters(seed)
    want_w, want_p, want_q = _sitk_staple(masks)
    prob, res = staple_binary(masks)
    np.testing.assert_allclose(res.sensitivity, want_p, atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.specificity, want_q, atol=1e-6, rtol=0)
    np.testing.assert_allclose(prob, want_w, atol=1e-6, rtol=0)


def test_multiclass_staple_with_two_labels_is_binary_staple():
    masks = _raters(11)
    flat = masks.reshape(masks.shape[0], -1).astype(np.int64)
    uniq, inv, cnt = np.unique(flat.T, axis=0, return_inverse=True, return_counts=True)
    res = staple_patterns(uniq, cnt, 2)
    _, want_p, want_q = _sitk_staple(masks)
    np.testing.assert_allclose(res.theta[:, 1, 1], want_p, atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.theta[:, 0, 0], want_q, atol=1e-6, rtol=0)


def test_staple_rates_a_noisy_rater_below_careful_ones():
    rng = np.random.default_rng(3)
    truth = rng.random((60, 60)) < 0.3
    good = [truth ^ (rng.random(truth.shape) < 0.02) for _ in range(3)]
    bad = truth ^ (rng.random(truth.shape) < 0.3)
    _, res = staple_binary(np.array(good + [bad]))
    assert res.sensitivity[3] < res.sensitivity[:3].min()


CATS = [Category(1, "cat"), Category(2, "dog")]


def _ds(anns, size=(16, 16)):
    return Dataset(list(CATS), [Item(7, "a.png", size[1], size[0],
                                     [Annotation(i + 1, c, g) for i, (c, g) in enumerate(anns)])])


def _regions(ds):
    return {(a.category_id, a.geometry.area) for a in ds.items[0].annotations}


def test_majority_consensus_takes_the_label_most_annotators_give():
    out = consensus([_ds([(1, Box(0, 0, 4, 4))]), _ds([(1, Box(0, 0, 4, 4))]), _ds([(2, Box(0, 0, 4, 4))])])
    assert _regions(out) == {(1, 16)}


def test_binary_majority_needs_more_than_half_of_the_annotators():
    dss = [_ds([(1, Box(0, 0, 4, 4))]), _ds([(1, Box(0, 0, 4, 4))]), _ds([]), _ds([])]
    assert consensus(dss, "majority", mode="binary").items[0].annotations == []
    assert _regions(consensus(dss[:3], "majority", mode="binary")) == {(1, 16)}


def test_staple_consensus_dataset_records_rater_sensitivities():
    rng = np.random.default_rng(5)
    truth = np.zeros((16, 16), bool); truth[3:12, 4:13] = True
    dss = [_ds([(1, Mask(truth ^ (rng.random(truth.shape) < p)))]) for p in (0.02, 0.03, 0.2)]
    out = consensus(dss, "staple", mode="binary", names=["a", "b", "c"])
    sens = out.meta["consensus"]["staple"]["cat"]["sensitivity"]
    assert set(sens) == {"a", "b", "c"}
    assert out.items[0].id == 7 and out.items[0].annotations[0].category_id == 1


def test_multiclass_staple_consensus_of_identical_annotators_is_their_annotation():
    anns = [(1, Box(0, 0, 4, 4)), (2, Box(8, 8, 5, 3))]
    out = consensus([_ds(anns), _ds(anns), _ds(anns)], "staple")
    assert _regions(out) == {(1, 16), (2, 15)}
