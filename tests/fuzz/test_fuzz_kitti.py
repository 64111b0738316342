"""Structured fuzzing of the KITTI segmentation reader and writer.

Seeds: ``fixtures/kitti`` (instance/ and semantic/ maps, an image-only
testing split) and ``../shared/corpus/datumaro/kitti_dataset/kitti_segmentation``
(skipped, with the reason, when absent); a ``label_colors.txt`` variant of the
fixture reaches the custom-table path. Each example copies one seed and
mutates ONE file: a map re-encoded (mode, size, palette, bit depth, values
outside the table, bomb header), ``label_colors.txt`` lines (odd, duplicated,
non-UTF-8, hundreds), bytes flipped or cut, a file made a directory or a
symbolic link out of the dataset, an odd file name. ``source`` picks the map.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes back
to KITTI completely or is refused with a ``SegmillError``.
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
CORPUS = REPO.parent / "shared" / "corpus" / "datumaro"
SEEDS = {
    "fixtures/kitti": REPO / "fixtures" / "kitti",
    "datumaro/kitti_segmentation": CORPUS / "kitti_dataset" / "kitti_segmentation",
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _seed(name: str) -> Path:
    if not SEEDS[name].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name]


def _copy(name: str, dst: Path, custom: bool) -> Path:
    root = mut.copy_seed(_seed(name), dst)
    if custom:  # the custom-table path: 40 labels (the seeds use values up to 31), line order = value
        (root / "label_colors.txt").write_text("".join(f"{i} {i} {i} label {i}\n" for i in range(40)))
    return root


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the KITTI tree at ``root``."""
    f = data.draw(st.sampled_from(mut.files_of(root)), "file")
    kinds = ["bytes", "replace"]
    kinds += {".png": ["png"] * 3, ".txt": ["lines"] * 3}.get(f.suffix, [])
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
        root = _copy(name, tmp / "ds", data.draw(st.booleans(), "custom table"))
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        source = data.draw(st.sampled_from(["auto", "instance", "semantic"]), "source")
        ds = reads_or_refuses(root, "kitti", errors=errors, source=source)
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / "out", "kitti", label_table=data.draw(
                st.sampled_from(["auto", "official", "custom"]), "label_table"))


@FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _round_trip("fixtures/kitti", data, reads_or_refuses, writes_or_refuses)


@settings(FUZZ, max_examples=_LONG or 30)
@given(data=st.data())
def test_mutated_datumaro_kitti_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _round_trip("datumaro/kitti_segmentation", data, reads_or_refuses, writes_or_refuses)


@pytest.mark.parametrize("custom", [False, True])
def test_the_unmutated_seeds_read_and_write_back(custom, tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    for name, seed in SEEDS.items():
        if not seed.is_dir():
            continue
        ds = reads_or_refuses(_copy(name, tmp_path / name.replace("/", "_"), custom), "kitti")
        assert ds is not None and any(it.annotations for it in ds.items), name
        assert writes_or_refuses(ds, tmp_path / f"out_{name.replace('/', '_')}", "kitti") is not None


@settings(FUZZ, max_examples=_LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ds = mut.hostile_dataset(data)
    with tempfile.TemporaryDirectory() as tmp:
        writes_or_refuses(ds, Path(tmp) / "out", "kitti")
