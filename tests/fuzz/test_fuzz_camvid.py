"""Structured fuzzing of the CamVid reader and writer.

Seeds: ``fixtures/camvid`` (a custom ``label_colors.txt``, RGB annotations,
an image-only line) and ``../shared/corpus/datumaro/camvid_dataset`` (the 32
CamVid classes; skipped, with the reason, when absent). Each example copies
one seed and mutates ONE file: an annotation re-encoded (mode, size, palette,
bit depth, colours of no label, bomb header), a list or ``label_colors.txt``
line (odd paths, ``../../x``, quotes, non-UTF-8, duplicates, hundreds), bytes
flipped or cut, a file made a directory or a symbolic link out of the
dataset, an odd file name.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes back
to CamVid completely or is refused with a ``SegmillError``.
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
    "fixtures/camvid": REPO / "fixtures" / "camvid",
    "datumaro/camvid": REPO.parent / "shared" / "corpus" / "datumaro" / "camvid_dataset",
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _seed(name: str) -> Path:
    if not SEEDS[name].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name]


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the CamVid folder at ``root``."""
    f = data.draw(st.sampled_from(mut.files_of(root)), "file")
    kinds = ["bytes", "replace"]
    kinds += {".png": ["png"] * 3, ".txt": ["lines"] * 4}.get(f.suffix, [])
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "lines":
        return mut.mutate_lines(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


def _round_trip(name, data, reads_or_refuses, writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(_seed(name), tmp / "ds")
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        ds = reads_or_refuses(root, "camvid", errors=errors)
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / "out", "camvid", mask_mode=data.draw(st.sampled_from([None, "RGB", "L"]),
                                                                             "mask_mode"))


@FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _round_trip("fixtures/camvid", data, reads_or_refuses, writes_or_refuses)


@settings(FUZZ, max_examples=_LONG or 30)
@given(data=st.data())
def test_mutated_datumaro_camvid_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _round_trip("datumaro/camvid", data, reads_or_refuses, writes_or_refuses)


def test_the_unmutated_seeds_read_and_write_back(tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    for name, seed in SEEDS.items():
        if not seed.is_dir():
            continue
        ds = reads_or_refuses(seed, "camvid")
        assert ds is not None and any(it.annotations for it in ds.items), name
        assert writes_or_refuses(ds, tmp_path / name.replace("/", "_"), "camvid") is not None


@settings(FUZZ, max_examples=_LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ds = mut.hostile_dataset(data)
    with tempfile.TemporaryDirectory() as tmp:
        writes_or_refuses(ds, Path(tmp) / "out", "camvid")
