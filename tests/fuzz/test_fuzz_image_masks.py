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

Property: that of ``_folder_fuzz.round_trip``; what is read is written back as image + mask folders.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

CSS = ff.DATUMARO / "common_semantic_segmentation_dataset"


def _maybe_without_meta(root: Path, name: str, data) -> None:
    """A variant of the fixture without ``dataset_meta.json`` (classes inferred)."""
    if name == "fixtures/image_masks" and data.draw(st.booleans(), "without dataset_meta.json"):
        (root / "dataset_meta.json").unlink()


SPEC = ff.FolderFuzz(
    "image_masks",
    seeds={"fixtures/image_masks": ff.REPO / "fixtures" / "image_masks", "datumaro/dataset": CSS / "dataset",
           "datumaro/non_standard_dataset": CSS / "non_standard_dataset"},
    seed_options={"datumaro/non_standard_dataset": {"masks_prefix": "gt_", "images_prefix": "image_"}},
    kinds=ff.by_suffix({".png": ["png"] * 3, ".json": ["json"] * 4}),
    write_choices={"mask_mode": [None, "RGB", "L"]},
    prepare=_maybe_without_meta,
)


@ff.FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                 streams_or_refuses):
    ff.round_trip(SPEC, "fixtures/image_masks", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SPEC.seeds if k.startswith("datumaro/")]))
def test_mutated_datumaro_folders_read_or_refuse_and_write_or_refuse(data, seed, reads_or_refuses,
                                                                     writes_or_refuses, streams_or_refuses):
    ff.round_trip(SPEC, seed, data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


def test_the_unmutated_seeds_read_and_write_back(tmp_path, reads_or_refuses, writes_or_refuses):
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ff.hostile_dataset_writes_or_refuses("image_masks", data, writes_or_refuses)
