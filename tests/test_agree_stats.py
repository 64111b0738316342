"""Cohen's kappa, Fleiss' kappa and Krippendorff's alpha against published values and a reference package."""

from __future__ import annotations

import numpy as np
import pytest

krippendorff = pytest.importorskip("krippendorff")

from segmill.agree import cohen_kappa, fleiss_kappa, krippendorff_alpha  # noqa: E402
from segmill.agree.multirater import MultiRaterCounts  # noqa: E402

# Wikipedia, "Fleiss' kappa", worked example (10 subjects, 14 raters, 5
# categories): P-bar = 0.378, P_e = 0.213, kappa = 0.210 (printed to three
# decimals). https://en.wikipedia.org/wiki/Fleiss%27_kappa
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_of_the_wikipedia_worked_example_is_0_210():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.210, abs=5e-4)


def test_cohen_kappa_of_the_wikipedia_grant_proposal_example_is_0_4():
    # Wikipedia, "Cohen's kappa", simple example: 50 proposals, both yes 20,
    # A yes / B no 5, A no / B yes 10, both no 15 -> p_o 0.7, p_e 0.5, kappa 0.4.
    assert cohen_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4, abs=1e-12)


def test_cohen_kappa_of_identical_raters_is_one():
    assert cohen_kappa(np.diag([5, 7, 9])) == 1.0


def test_cohen_kappa_of_raters_using_one_label_each_is_zero():
    assert cohen_kappa([[0, 10], [0, 0]]) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_krippendorff_alpha_equals_the_krippendorff_package(seed):
    rng = np.random.default_rng(seed)
    m, n, k = int(rng.integers(2, 6)), int(rng.integers(20, 200)), int(rng.integers(2, 6))
    truth = rng.integers(0, k, n)
    data = np.where(rng.random((m, n)) < 0.7, truth, rng.integers(0, k, (m, n))).astype(float)
    data[rng.random((m, n)) < 0.15] = np.nan  # missing values
    want = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(data) == pytest.approx(want, abs=1e-12)


def test_krippendorff_alpha_accumulated_in_chunks_equals_one_pass():
    rng = np.random.default_rng(7)
    data = rng.integers(0, 3, (4, 300))
    data[rng.random((4, 300)) < 0.1] = -1
    whole = MultiRaterCounts(4, 3); whole.add(data)
    parts = MultiRaterCounts(4, 3)
    for s in (slice(0, 100), slice(100, 250), slice(250, 300)):
        parts.add(data[:, s])
    assert parts.krippendorff_alpha() == pytest.approx(whole.krippendorff_alpha(), abs=1e-12)
    assert parts.fleiss_kappa() == pytest.approx(whole.fleiss_kappa(), abs=1e-12)


def test_fleiss_kappa_uses_only_fully_rated_subjects():
    acc = MultiRaterCounts(3, 2)
    acc.add(np.array([[0, 1, 1], [0, 1, -1], [0, 1, 0]]))
    assert acc.subjects == 2 and acc.fleiss_kappa() == 1.0


def test_identical_raters_give_alpha_and_fleiss_one():
    data = np.tile(np.arange(4) % 3, (3, 1))
    assert krippendorff_alpha(data) == 1.0
    counts = np.zeros((4, 3), int)
    counts[np.arange(4), np.arange(4) % 3] = 3
    assert fleiss_kappa(counts) == pytest.approx(1.0)


def test_fully_disagreeing_raters_give_negative_alpha_and_kappa():
    # two raters who never agree on a balanced binary task
    data = np.array([[0, 1, 0, 1], [1, 0, 1, 0]])
    assert krippendorff_alpha(data) < 0
    assert cohen_kappa([[0, 2], [2, 0]]) == pytest.approx(-1.0)


@pytest.mark.parametrize("ref_row", [-1, 1])
def test_fused_all_rater_pass_equals_the_separate_kernels(ref_row):
    from segmill.agree import _kernels as K

    rng = np.random.default_rng(ref_row + 5)
    stack = rng.integers(0, 4, (3, 500)).astype(np.int32)
    stack[:, :200] = stack[0, :200]  # many unanimous pixels (the short path)
    stack[rng.random((3, 500)) < 0.05] = -1
    sep = MultiRaterCounts(3, 4); sep.add(stack)
    ref = np.empty(500, np.int32)
    if ref_row < 0:
        K.plurality(stack, 4, ref)
    else:
        ref = stack[ref_row].copy()
    view_sep = np.zeros((3, 4, 4), np.int64)
    for a in range(3):
        K.confusion_add(stack[a], ref, view_sep[a])
    fused = MultiRaterCounts(3, 4)
    view = np.zeros((3, 4, 4), np.int64)
    K.all_rater_pass(stack, 4, ref_row, fused.fleiss_totals, fused.alpha_totals, fused.scalars, view)
    np.testing.assert_array_equal(view, view_sep)
    np.testing.assert_allclose(fused.scalars, sep.scalars)
    np.testing.assert_array_equal(fused.alpha_totals, sep.alpha_totals)
    np.testing.assert_array_equal(fused.fleiss_totals, sep.fleiss_totals)
