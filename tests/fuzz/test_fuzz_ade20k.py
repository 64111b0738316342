"""Structured fuzzing of the ADE20K reader (read only: what it returns is written as COCO).

Seeds: ``fixtures/ade20k/basic`` (instance masks, a polygon-only object, a
part, ``_seg.png`` / ``_parts_1.png``, a Latin-1 JSON) and
``../shared/corpus/datumaro/ade20k2020_dataset/*`` (skipped, with the reason,
when absent). Each example copies one seed and mutates ONE file: a JSON value
replaced / deleted / duplicated (NaN, huge integers, wrong types, deep
nesting), a PNG re-encoded (mode, size, palette, bit depth, bomb header),
bytes flipped or cut, a file made a directory or a symbolic link out of the
dataset, an odd file name. The ``source`` option picks the pixels.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes to
COCO completely or is refused with a ``SegmillError``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import segmill

_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

REPO = Path(__file__).resolve().parents[2]
SEEDS = {
    "fixtures/ade20k": REPO / "fixtures" / "ade20k" / "basic",
    **{f"datumaro/{n}": REPO.parent / "shared" / "corpus" / "datumaro" / "ade20k2020_dataset" / n
       for n in ("dataset", "dataset_with_meta_file")},
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SOURCES = ["auto", "masks", "polygons", "seg"]


def _seed(name: str) -> Path:
    if not SEEDS[name].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name]


def _utf8(f: Path) -> bool:
    try:
        f.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the ADE20K tree at ``root``."""
    f = data.draw(st.sampled_from(mut.files_of(root)), "file")
    kinds = ["bytes", "replace"] + {".png": ["png"] * 3, ".json": ["json"] * 5}.get(f.suffix, [])
    if f.suffix == ".json" and not _utf8(f):  # the Latin-1 file: its bytes are mutated, not its values
        kinds = ["bytes", "replace"]
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "json":
        return mut.mutate_json(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


def _read_and_write(seed, data, reads_or_refuses, writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(seed, tmp / "ds")
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        source = data.draw(st.sampled_from(SOURCES), "source")
        ds = reads_or_refuses(root, "ade20k", errors=errors, source=source)
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / "out.json", "coco")


@FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _read_and_write(_seed("fixtures/ade20k"), data, reads_or_refuses, writes_or_refuses)


@settings(FUZZ, max_examples=_LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SEEDS if k.startswith("datumaro/")]))
def test_mutated_datumaro_ade20k_reads_or_refuses_and_writes_or_refuses(data, seed, reads_or_refuses,
                                                                       writes_or_refuses):
    _read_and_write(_seed(seed), data, reads_or_refuses, writes_or_refuses)


@pytest.mark.parametrize("source", SOURCES)
def test_the_unmutated_seeds_read_and_write(source, tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    for name, seed in SEEDS.items():
        if not seed.is_dir():
            continue
        errors = "skip" if source in ("masks", "polygons") else "raise"  # objects without a PNG / a polygon
        ds = reads_or_refuses(seed, "ade20k", source=source, errors=errors)
        assert ds is not None and ds.items, name
        assert writes_or_refuses(ds, tmp_path / f"{name.replace('/', '_')}_{source}.json", "coco") is not None
