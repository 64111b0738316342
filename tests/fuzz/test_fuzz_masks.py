"""Structured fuzzing of the PNG mask-folder reader and writer (``masks`` format).

Seed: ``fixtures/masks`` (classes.txt, semantic/ and instances/ PNGs), with
an ``instances.json`` added in a second variant without semantic maps, so
that the JSON path is reached. Each example copies the seed and mutates ONE
file: a PNG re-encoded (mode, size, palette, bit depth, values, bomb header),
``instances.json`` values replaced / deleted / nested, ``classes.txt`` lines
(odd, duplicated, non-UTF-8, hundreds), bytes flipped or cut, a file made a
directory or a symbolic link out of the folder, an odd file name.

Property: that of ``_folder_fuzz.round_trip``; what is read is written back as a mask folder.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

SEED = ff.REPO / "fixtures" / "masks"
VARIANTS = ["semantic", "instances.json"]


def _variant(root: Path, name: str, data=None) -> None:
    if name == "instances.json":  # no semantic maps: instance classes come from the JSON
        shutil.rmtree(root / "semantic")
        (root / "instances.json").write_text(json.dumps({"street_001": {"1": "person", "2": "tree"}}))


SPEC = ff.FolderFuzz(
    "masks",
    seeds={variant: SEED for variant in VARIANTS},
    kinds=ff.by_suffix({".png": ["png"] * 3, ".json": ["json"] * 3, ".txt": ["lines"] * 3}),
    write_choices={"mode": [None, "L", "P", "I;16"]},
    prepare=_variant,
)


@ff.FUZZ
@given(data=st.data(), variant=st.sampled_from(VARIANTS))
def test_mutated_mask_folder_reads_or_refuses_and_writes_or_refuses(data, variant, reads_or_refuses,
                                                                    writes_or_refuses, streams_or_refuses):
    ff.round_trip(SPEC, variant, data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_unmutated_seed_reads_and_writes_back(variant, tmp_path, reads_or_refuses, writes_or_refuses):
    def copy(name: str, dst: Path) -> Path:
        root = ff.mut.copy_seed(ff.seed(SPEC, name), dst)
        _variant(root, name)
        return root

    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, names=[variant], copy=copy)


@settings(ff.FUZZ, max_examples=ff.LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ff.hostile_dataset_writes_or_refuses("masks", data, writes_or_refuses)


@pytest.mark.parametrize("iid, size, message", ff.NAMES_NO_FILE_CAN_HAVE + ff.SIZES_NO_FILE_CAN_HOLD)
def test_the_writer_refuses_what_no_file_can_hold_before_writing(iid, size, message, tmp_path, writes_or_refuses):
    ff.refused_before_writing("masks", iid, size, message, tmp_path, writes_or_refuses)


@pytest.mark.parametrize("errors", ff.UNKNOWN_ERRORS)
def test_an_unknown_errors_mode_is_a_usage_error(errors):
    ff.unknown_errors_mode_is_a_usage_error(SEED, "masks", errors)
