"""label_components against scipy.ndimage.label and scikit-image (the oracles), compiled and interpreted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from skimage.measure import label as sk_label

from segmill.rle.kernels import label_components

_grids = arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(_grids, st.booleans())
def test_binary_equals_scipy(values, eight):
    mask = values > 1
    structure = np.ones((3, 3), bool) if eight else None
    want, n_want = ndimage.label(mask, structure=structure)
    got, n = label_components(mask, eight)
    assert n == n_want
    np.testing.assert_array_equal(got, want)


@settings(max_examples=300, deadline=None)
@given(_grids, st.booleans())
def test_multi_valued_equals_skimage(values, eight):
    want, n_want = sk_label(values, background=0, connectivity=2 if eight else 1, return_num=True)
    got, n = label_components(values, eight)
    assert n == n_want
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("eight, n_want", [(True, 1), (False, 2)])
def test_diagonal_touch(eight, n_want):
    m = np.array([[1, 0], [0, 1]], bool)
    assert label_components(m, eight)[1] == n_want


def test_interpreted_source_gives_the_same_labels():
    rng = np.random.default_rng(3)
    for _ in range(20):
        m = rng.random((17, 23)) < 0.45
        compiled = label_components(m, True)
        source = label_components.py_func(m, True)  # the kernel's own Python, as run before numba loads
        assert compiled[1] == source[1]
        np.testing.assert_array_equal(compiled[0], source[0])
