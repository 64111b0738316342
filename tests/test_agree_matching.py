"""Instance matching and PQ/SQ/RQ: hand-built cases with known answers, and an oracle.

The oracle recomputes matching and PQ independently from
``pycocotools.mask.iou`` + ``scipy.optimize.linear_sum_assignment`` on random
masks, following panopticapi's definitions.
"""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as cocomask
from scipy.optimize import linear_sum_assignment

from segmill.agree import compare, iou_matrix, match
from segmill.agree.panoptic import compare_instances
from segmill.agree.rasterize import prepare
from segmill.geometry import Box, Mask
from segmill.model import Annotation, Category, Dataset, Item

CATS = [Category(1, "cat"), Category(2, "dog"), Category(3, "void")]


def dataset(anns, size=(32, 32), file_name="img.png"):
    items = [Item(1, file_name, size[1], size[0], [
        Annotation(i + 1, a[0], a[1], iscrowd=bool(a[2]) if len(a) > 2 else False) for i, a in enumerate(anns)
    ])]
    return Dataset(list(CATS), items)


def pair_pq(anns_a, anns_b, **kw):
    d = compare([dataset(anns_a), dataset(anns_b)], names=["a", "b"], **kw).to_dict()
    return d["pairs"][0]["instance"], d


def test_match_requires_iou_strictly_above_threshold():
    rows, cols, ious = match(np.array([[0.5, 0.0], [0.0, 0.51]]), 0.5)
    assert rows.tolist() == [1] and cols.tolist() == [1]


def test_match_maximizes_matches_then_total_iou():
    # with threshold 0.1 the greedy best pair (0,0) would leave row 1 unmatched
    rows, cols, _ = match(np.array([[0.9, 0.8], [0.7, 0.05]]), 0.1)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]


def test_iou_matrix_excludes_void_pixels_from_union():
    a = np.zeros((6, 6), bool); a[:2, :2] = True
    b = np.zeros((6, 6), bool); b[:2, :4] = True
    v = np.zeros((6, 6), bool); v[:, 2:] = True
    from segmill.rle import encode

    assert iou_matrix([encode(a)], [encode(b)])[0, 0] == pytest.approx(0.5)
    assert iou_matrix([encode(a)], [encode(b)], void=encode(v))[0, 0] == pytest.approx(1.0)


def test_shifted_box_with_iou_0_6_is_a_true_positive_with_pq_0_6():
    inst, _ = pair_pq([(1, Box(0, 0, 4, 4))], [(1, Box(1, 0, 4, 4))])
    assert (inst["tp"], inst["fp"], inst["fn"]) == (1, 0, 0)
    assert inst["pq"] == pytest.approx(12 / 20)
    assert inst["sq"] == pytest.approx(0.6) and inst["rq"] == 1.0


def test_iou_of_exactly_one_half_is_not_a_match():
    inst, _ = pair_pq([(1, Box(0, 0, 4, 4))], [(1, Box(0, 0, 2, 4))])
    assert (inst["tp"], inst["fp"], inst["fn"]) == (0, 1, 1)
    assert inst["pq"] == 0.0 and inst["rq"] == 0.0


def test_pq_is_averaged_over_categories_present():
    a = [(1, Box(0, 0, 4, 4)), (2, Box(10, 10, 4, 4))]
    b = [(1, Box(0, 0, 4, 4))]  # dog missed: dog PQ 0, cat PQ 1
    inst, d = pair_pq(a, b)
    assert inst["per_class"]["cat"]["pq"] == 1.0
    assert inst["per_class"]["dog"]["pq"] == 0.0
    assert inst["pq"] == pytest.approx(0.5)
    assert d["pq"] == pytest.approx(0.5)


def test_unmatched_instance_inside_other_annotators_crowd_is_not_counted():
    a = [(1, Box(0, 0, 16, 16), True)]
    b = [(1, Box(2, 2, 4, 4))]
    inst, d = pair_pq(a, b)
    assert (inst["tp"], inst["fp"], inst["fn"]) == (0, 0, 0)
    assert d["pq"] is None


def test_crowd_of_another_category_does_not_excuse_an_unmatched_instance():
    inst, _ = pair_pq([(2, Box(0, 0, 16, 16), True)], [(1, Box(2, 2, 4, 4))])
    assert inst["fp"] == 1


def test_crowd_rule_applies_both_ways():
    inst, _ = pair_pq([(1, Box(2, 2, 4, 4))], [(1, Box(0, 0, 16, 16), True)])
    assert inst["fn"] == 0


def test_void_category_pixels_are_left_out_of_iou():
    a = [(1, Box(0, 0, 4, 4))]
    b = [(1, Box(0, 0, 8, 4)), (3, Box(4, 0, 4, 4))]
    inst, _ = pair_pq(a, b, void=["void"])
    assert inst["tp"] == 1 and inst["mean_iou"] == pytest.approx(1.0)


def test_unlabeled_pixels_are_void_for_panoptic_data():
    # b leaves the right half of a's region unlabelled: void, so the IoU is 1 (panopticapi)
    a = [(1, Box(0, 0, 8, 4)), (2, Box(0, 4, 32, 28))]
    b = [(1, Box(0, 0, 4, 4)), (2, Box(0, 4, 32, 28))]
    inst, _ = pair_pq(a, b, unlabeled="void")
    assert inst["per_class"]["cat"]["tp"] == 1 and inst["per_class"]["cat"]["sq"] == 1.0
    inst, _ = pair_pq(a, b)
    assert inst["per_class"]["cat"]["tp"] == 0


def test_label_disagreement_shows_in_the_label_confusion_matrix():
    a = [(1, Box(0, 0, 4, 4)), (2, Box(10, 10, 4, 4))]
    b = [(2, Box(0, 0, 4, 4)), (2, Box(10, 10, 4, 4))]
    inst, _ = pair_pq(a, b)
    la = inst["label_agreement"]
    assert la["labels"] == ["cat", "dog"]
    assert la["confusion"] == [[0, 1], [0, 1]]
    assert (la["matched"], la["agree"]) == (2, 1)


def test_identical_annotators_give_pq_one():
    a = [(1, Box(0, 0, 4, 4)), (2, Box(10, 10, 7, 3)), (1, Box(20, 3, 5, 9))]
    inst, d = pair_pq(a, list(a))
    assert d["pq"] == 1.0 and inst["label_agreement"]["kappa"] == 1.0


def test_disjoint_annotators_give_pq_zero():
    inst, d = pair_pq([(1, Box(0, 0, 4, 4))], [(1, Box(20, 20, 4, 4))])
    assert d["pq"] == 0.0 and (inst["fp"], inst["fn"]) == (1, 1)


# --------------------------------------------------------------------- oracle
def _random_instances(rng, h, w, n):
    out = []
    for _ in range(n):
        m = np.zeros((h, w), bool)
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        m[y : y + rng.integers(3, 14), x : x + rng.integers(3, 14)] = True
        m &= rng.random((h, w)) > 0.1  # ragged
        out.append((int(rng.integers(1, 3)), m))
    return out


def _perturb(rng, inst, h, w):
    out = []
    for lab, m in inst:
        if rng.random() < 0.15:
            continue
        m2 = np.roll(m, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
        if rng.random() < 0.1:
            lab = 3 - lab
        out.append((lab, m2))
    return out + _random_instances(rng, h, w, int(rng.integers(0, 3)))


def _oracle_counts(ia, ib, thr):
    """Per-class tp/fp/fn/iou_sum from pycocotools iou + linear_sum_assignment."""
    res = {}
    for k in (1, 2):
        A = [m for lab, m in ia if lab == k]
        B = [m for lab, m in ib if lab == k]
        tp = 0; s = 0.0
        if A and B:
            ra = cocomask.encode(np.asfortranarray(np.stack(A, -1).astype(np.uint8)))
            rb = cocomask.encode(np.asfortranarray(np.stack(B, -1).astype(np.uint8)))
            iou = cocomask.iou(rb, ra, [0] * len(A)).T  # rows A
            w = np.where(iou > thr, iou, 0.0)
            r, c = linear_sum_assignment(w, maximize=True)
            ok = iou[r, c] > thr
            tp = int(ok.sum()); s = float(iou[r, c][ok].sum())
        res[k] = (tp, len(B) - tp, len(A) - tp, s)
    return res


@pytest.mark.parametrize("seed", range(6))
def test_matching_and_pq_equal_pycocotools_plus_linear_sum_assignment(seed):
    rng = np.random.default_rng(seed)
    h, w = 48, 56
    ia = _random_instances(rng, h, w, 8)
    ib = _perturb(rng, ia, h, w)
    idx = {1: 0, 2: 1}
    pa = prepare(Item(1, "x", w, h, [Annotation(i, lab, Mask(m)) for i, (lab, m) in enumerate(ia)]), idx, h, w)
    pb = prepare(Item(1, "x", w, h, [Annotation(i, lab, Mask(m)) for i, (lab, m) in enumerate(ib)]), idx, h, w)
    got = compare_instances(pa, pb, 2, 0.5)
    want = _oracle_counts(ia, ib, 0.5)
    for k in (1, 2):
        tp, fp, fn, s = want[k]
        assert (got.tp[k - 1], got.fp[k - 1], got.fn[k - 1]) == (tp, fp, fn)
        assert got.iou_sum[k - 1] == pytest.approx(s, abs=1e-12)
    pq_want = [want[k][3] / (want[k][0] + want[k][1] / 2 + want[k][2] / 2)
               for k in (1, 2) if sum(want[k][:3])]
    assert got.panoptic()["pq"] == pytest.approx(np.mean(pq_want), abs=1e-12)
