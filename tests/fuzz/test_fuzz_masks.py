"""Structured fuzzing of the PNG mask-folder reader and writer (``masks`` format).

Seed: ``fixtures/masks`` (classes.txt, semantic/ and instances/ PNGs), with
an ``instances.json`` added in a second variant without semantic maps, so
that the JSON path is reached. Each example copies the seed and mutates ONE
file: a PNG re-encoded (mode, size, palette, bit depth, values, bomb header),
``instances.json`` values replaced / deleted / nested, ``classes.txt`` lines
(odd, duplicated, non-UTF-8, hundreds), bytes flipped or cut, a file made a
directory or a symbolic link out of the folder, an odd file name.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes back
to a mask folder completely or is refused with a ``SegmillError``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import segmill

_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

SEED = Path(__file__).resolve().parents[2] / "fixtures" / "masks"
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _copy(dst: Path, variant: str) -> Path:
    if not SEED.is_dir():
        pytest.skip(f"seed not found at {SEED}")
    root = mut.copy_seed(SEED, dst)
    if variant == "instances.json":  # no semantic maps: instance classes come from the JSON
        shutil.rmtree(root / "semantic")
        (root / "instances.json").write_text(json.dumps({"street_001": {"1": "person", "2": "tree"}}))
    return root


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the mask folder at ``root``."""
    f = data.draw(st.sampled_from(mut.files_of(root)), "file")
    kinds = ["bytes", "replace"]
    kinds += {".png": ["png"] * 3, ".json": ["json"] * 3, ".txt": ["lines"] * 3}.get(f.suffix, [])
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "json":
        return mut.mutate_json(f, data)
    if kind == "lines":
        return mut.mutate_lines(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


@FUZZ
@given(data=st.data(), variant=st.sampled_from(["semantic", "instances.json"]))
def test_mutated_mask_folder_reads_or_refuses_and_writes_or_refuses(data, variant, reads_or_refuses,
                                                                    writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = _copy(tmp / "ds", variant)
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        ds = reads_or_refuses(root, "masks", errors=errors)
        if ds is not None and errors != "keep":
            mode = data.draw(st.sampled_from([None, "L", "P", "I;16"]), "mode")
            writes_or_refuses(ds, tmp / "out", "masks", mode=mode)


@pytest.mark.parametrize("variant", ["semantic", "instances.json"])
def test_the_unmutated_seed_reads_and_writes_back(variant, tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seed itself gets through
    ds = reads_or_refuses(_copy(tmp_path / "ds", variant), "masks")
    assert ds is not None and any(item.annotations for item in ds.items)
    assert writes_or_refuses(ds, tmp_path / "out", "masks") is not None


@settings(FUZZ, max_examples=_LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ds = mut.hostile_dataset(data)
    with tempfile.TemporaryDirectory() as tmp:
        writes_or_refuses(ds, Path(tmp) / "out", "masks")


@pytest.mark.parametrize("iid, size, message", [
    ("a\x00b", (4, 6), "NUL byte"),
    ("a" * 300, (4, 6), "at most 255"),
    ("\ud800", (4, 6), "not valid Unicode"),
    ("zero", (0, 6), "height must be an integer in \\[1, inf\\]"),
    ("huge", (100_000, 100_000), "over the pixel limit"),
])
def test_the_writer_refuses_what_no_file_can_hold_before_writing(iid, size, message, tmp_path, writes_or_refuses):
    from segmill.errors import InputError
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3]]))
    ds = Dataset([Category(1, "car")], [Item(iid, "a.jpg", width=size[1], height=size[0], annotations=[ann])])
    with pytest.raises(InputError, match=message):
        segmill.write(ds, tmp_path / "out", "masks")
    assert list(tmp_path.iterdir()) == []
    assert writes_or_refuses(ds, tmp_path / "out", "masks") is None


@pytest.mark.parametrize("errors", ["bogus", "", None, 1])
def test_an_unknown_errors_mode_is_a_usage_error(errors):
    from segmill.errors import UsageError

    with pytest.raises(UsageError, match="errors must be one of raise, skip, keep"):
        segmill.read(SEED, "masks", errors=errors)
