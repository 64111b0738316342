"""Structured fuzzing of the ADE20K reader (read only: what it returns is written as COCO).

Seeds: ``fixtures/ade20k/basic`` (instance masks, a polygon-only object, a
part, ``_seg.png`` / ``_parts_1.png``, a Latin-1 JSON) and
``../shared/corpus/datumaro/ade20k2020_dataset/*`` (skipped, with the reason,
when absent). Each example copies one seed and mutates ONE file: a JSON value
replaced / deleted / duplicated (NaN, huge integers, wrong types, deep
nesting), a PNG re-encoded (mode, size, palette, bit depth, bomb header),
bytes flipped or cut, a file made a directory or a symbolic link out of the
dataset, an odd file name. The ``source`` option picks the pixels.

Property: that of ``_folder_fuzz.round_trip``; what is read is written as COCO (ADE20K is read only), and
the stream (``ade20k.stream``: a first pass for the categories) gives what the read gives, or refuses alike.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

SOURCES = ["auto", "masks", "polygons", "seg"]


def _kinds(f: Path) -> list:
    if f.suffix == ".json" and not _utf8(f):  # the Latin-1 file: its bytes are mutated, not its values
        return []
    return {".png": ["png"] * 3, ".json": ["json"] * 5}.get(f.suffix, [])


def _utf8(f: Path) -> bool:
    try:
        f.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


SPEC = ff.FolderFuzz(
    "ade20k",
    seeds={"fixtures/ade20k": ff.REPO / "fixtures" / "ade20k" / "basic",
           **{f"datumaro/{n}": ff.DATUMARO / "ade20k2020_dataset" / n for n in ("dataset", "dataset_with_meta_file")}},
    kinds=_kinds,
    read_choices={"source": SOURCES},
    write_fmt="coco",
)


@ff.FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                streams_or_refuses):
    ff.round_trip(SPEC, "fixtures/ade20k", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SPEC.seeds if k.startswith("datumaro/")]))
def test_mutated_datumaro_ade20k_reads_or_refuses_and_writes_or_refuses(data, seed, reads_or_refuses,
                                                                       writes_or_refuses, streams_or_refuses):
    ff.round_trip(SPEC, seed, data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@pytest.mark.parametrize("source", SOURCES)
def test_the_unmutated_seeds_read_and_write(source, tmp_path, reads_or_refuses, writes_or_refuses):
    errors = "skip" if source in ("masks", "polygons") else "raise"  # objects without a PNG / a polygon
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, annotated=False, source=source,
                         errors=errors)
