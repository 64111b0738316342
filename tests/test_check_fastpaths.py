"""The check's fast paths against their slow references, and its profile hook.

* :func:`segmill.check._files.image_files` (S007/S008/S013) answers what
  :func:`segmill.paths.resolve_inside` and ``is_file`` answer, name by name,
  with symlinks in and out of the root, dangling links and escapes;
* ``check(..., timings={})`` names every rule with its findings and changes nothing.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.check._files import image_files
from segmill.errors import InputError
from segmill.model import Item
from segmill.paths import resolve_inside


# ------------------------------------------------------------------ image files


def slow(root, items):
    res, found = [], 0
    for it in items:
        if root is None or not it.file_name:
            res.append((None, None))
            continue
        try:
            p = resolve_inside(root, it.file_name)
        except InputError as exc:
            res.append((None, exc.message))
            continue
        exists = p.is_file()
        found += exists
        res.append((p if exists else False, None))
    return res, found


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "images" / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    (root / "images" / "a.jpg").write_bytes(b"x")
    (root / "images" / "sub" / "b.jpg").write_bytes(b"x")
    (root / "file.txt").write_bytes(b"x")
    if hasattr(os, "symlink"):
        try:
            os.symlink(outside, root / "out")  # a folder link leaving the root
            os.symlink(root / "images", root / "alias")  # one staying inside
            os.symlink(outside / "nothing.jpg", root / "images" / "dangling_out.jpg")
            os.symlink(root / "images" / "nothing.jpg", root / "images" / "dangling_in.jpg")
            os.symlink(outside / "secret.jpg", root / "images" / "leak.jpg")
        except OSError:
            pass
    return root


NAMES = ["images/a.jpg", "images/sub/b.jpg", "images/missing.jpg", "images\\a.jpg", "images\\gone.jpg",
         "missing/x.jpg", "file.txt/x.jpg", "../outside/secret.jpg", "images/../images/a.jpg",
         "images/../../outside/secret.jpg", "/etc/passwd", "C:/x.jpg", "out/secret.jpg", "out/nothing.jpg",
         "alias/a.jpg", "alias/none.jpg", "images/dangling_out.jpg", "images/dangling_in.jpg",
         "images/leak.jpg", "images/", "images/.", "images//a.jpg", "images/./none.jpg", "a\0b.jpg",
         "\udcff.jpg", "images", "", "nothere.jpg"]


def test_image_files_answers_what_resolve_inside_answers(tree):
    items = [Item(k, name, 4, 4) for k, name in enumerate(NAMES)]
    assert image_files(tree, items) == slow(tree, items)
    assert image_files(None, items) == slow(None, items)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(NAMES + ["images/sub/", "sub/b.jpg", "images/sub/none.jpg"]), max_size=12))
def test_image_files_in_any_order(tmp_path_factory, names):
    root = tmp_path_factory.getbasetemp() / "fixed-tree"
    if not root.exists():
        (root / "images" / "sub").mkdir(parents=True)
        (root / "images" / "a.jpg").write_bytes(b"x")
        (root / "images" / "sub" / "b.jpg").write_bytes(b"x")
    items = [Item(k, name, 4, 4) for k, name in enumerate(names)]
    assert image_files(root, items) == slow(root, items)


# ------------------------------------------------------------------ the profile hook


def test_timings_name_every_rule_and_count_its_findings(tmp_path):
    import segmill
    from segmill.check import check
    from segmill.synth import write_coco

    ds = segmill.read(write_coco(tmp_path / "a.json", 20, 3), "coco", errors="keep")
    timings: dict = {}
    result = check(ds, timings=timings)
    codes = [r.code for r in result.rules]
    assert set(codes) <= set(timings)
    for code in codes:
        seconds, found = timings[code]
        assert seconds >= 0.0
        assert found == sum(f.code == code for f in result.findings)
    shared = {k for k in timings if k.startswith("shared: ")}
    assert {"shared: pixels (rasterize once)", "shared: pairs (box sweep)"} <= shared
    assert all(timings[k][1] == 0 for k in shared)
    assert check(ds).findings == result.findings  # the hook changes nothing
