"""Structured fuzzing of the image + mask folder reader and writer (``image_masks``).

Seeds: ``fixtures/image_masks`` (class-value masks, ``dataset_meta.json``
with ``label_map``, colours and a background) and
``../shared/corpus/datumaro/common_semantic_segmentation_dataset/*`` (RGB
masks; skipped, with the reason, when absent), plus a variant of the fixture
without ``dataset_meta.json`` (classes inferred). Each example copies one
seed and mutates ONE file: a mask re-encoded (mode, size, palette, bit
depth, values or colours of no label, bomb header), a ``dataset_meta.json``
value replaced / deleted / nested (NaN, huge integers, wrong types), bytes
flipped or cut, a file made a directory or a symbolic link out of the
dataset, an odd file name.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes back
completely or is refused with a ``SegmillError``.
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
CSS = REPO.parent / "shared" / "corpus" / "datumaro" / "common_semantic_segmentation_dataset"
SEEDS = {
    "fixtures/image_masks": (REPO / "fixtures" / "image_masks", {}),
    "datumaro/dataset": (CSS / "dataset", {}),
    "datumaro/non_standard_dataset": (CSS / "non_standard_dataset", {"masks_prefix": "gt_", "images_prefix": "image_"}),
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _seed(name: str) -> Path:
    if not SEEDS[name][0].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name][0]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name][0]


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the image + mask folders at ``root``."""
    f = data.draw(st.sampled_from(mut.files_of(root)), "file")
    kinds = ["bytes", "replace"]
    kinds += {".png": ["png"] * 3, ".json": ["json"] * 4}.get(f.suffix, [])
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "json":
        return mut.mutate_json(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


def _round_trip(name, data, reads_or_refuses, writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(_seed(name), tmp / "ds")
        if name == "fixtures/image_masks" and data.draw(st.booleans(), "without dataset_meta.json"):
            (root / "dataset_meta.json").unlink()
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        ds = reads_or_refuses(root, "image_masks", errors=errors, **SEEDS[name][1])
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / "out", "image_masks",
                              mask_mode=data.draw(st.sampled_from([None, "RGB", "L"]), "mask_mode"))


@FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _round_trip("fixtures/image_masks", data, reads_or_refuses, writes_or_refuses)


@settings(FUZZ, max_examples=_LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SEEDS if k.startswith("datumaro/")]))
def test_mutated_datumaro_folders_read_or_refuse_and_write_or_refuse(data, seed, reads_or_refuses,
                                                                     writes_or_refuses):
    _round_trip(seed, data, reads_or_refuses, writes_or_refuses)


def test_the_unmutated_seeds_read_and_write_back(tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    for name, (seed, options) in SEEDS.items():
        if not seed.is_dir():
            continue
        ds = reads_or_refuses(seed, "image_masks", **options)
        assert ds is not None and any(it.annotations for it in ds.items), name
        assert writes_or_refuses(ds, tmp_path / name.replace("/", "_"), "image_masks") is not None


@settings(FUZZ, max_examples=_LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ds = mut.hostile_dataset(data)
    with tempfile.TemporaryDirectory() as tmp:
        writes_or_refuses(ds, Path(tmp) / "out", "image_masks")
