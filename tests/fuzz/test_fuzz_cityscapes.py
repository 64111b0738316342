"""Structured fuzzing of the Cityscapes reader and writer.

Seeds: ``fixtures/cityscapes/basic`` (labelIds, instanceIds and polygons.json)
and ``../shared/corpus/datumaro/cityscapes_dataset/*`` (skipped, with the
reason, when absent). Each example copies one seed and mutates ONE file: a
label PNG re-encoded (mode, size, palette, bit depth, values outside the
label table, bomb header), a ``polygons.json`` value replaced / deleted /
nested (NaN, huge integers, wrong types), bytes flipped or cut, a file made a
directory or a symbolic link out of ``gtFine``, an odd file name. The
``source`` option picks which file kind is read.

Property: that of ``_folder_fuzz.round_trip``; what is read is written back as Cityscapes.
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

SOURCES = ["auto", "instanceIds", "labelIds", "polygons"]
SPEC = ff.FolderFuzz(
    "cityscapes",
    seeds={"fixtures/cityscapes": ff.REPO / "fixtures" / "cityscapes" / "basic",
           **{f"datumaro/{n}": ff.DATUMARO / "cityscapes_dataset" / n for n in ("dataset", "train_dataset")}},
    files=lambda root: ff.mut.files_of(root / "gtFine"),
    kinds=ff.by_suffix({".png": ["png"] * 3, ".json": ["json"] * 4}),
    read_choices={"source": SOURCES, "raster": ["coco", "pil"]},
)


@ff.FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                 streams_or_refuses):
    ff.round_trip(SPEC, "fixtures/cityscapes", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SPEC.seeds if k.startswith("datumaro/")]))
def test_mutated_datumaro_cityscapes_reads_or_refuses_and_writes_or_refuses(data, seed, reads_or_refuses,
                                                                            writes_or_refuses, streams_or_refuses):
    ff.round_trip(SPEC, seed, data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@pytest.mark.parametrize("source", SOURCES)
def test_the_unmutated_seeds_read_and_write_back(source, tmp_path, reads_or_refuses, writes_or_refuses):
    # Datumaro's export has instanceIds (and labelTrainIds) only
    names = [n for n in SPEC.seeds if not (source in ("polygons", "labelIds") and n.startswith("datumaro/"))]
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, names=names, annotated=False,
                         source=source)


@settings(ff.FUZZ, max_examples=ff.LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ff.hostile_dataset_writes_or_refuses("cityscapes", data, writes_or_refuses)


@pytest.mark.parametrize("iid, size, message", [
    ("train/c/" + "a" * 300, (4, 6), "longer than a file name can be"),
    *ff.SIZES_NO_FILE_CAN_HOLD,
])
def test_the_writer_refuses_what_no_file_can_hold_before_writing(iid, size, message, tmp_path, writes_or_refuses):
    ff.refused_before_writing("cityscapes", iid, size, message, tmp_path, writes_or_refuses)


@pytest.mark.parametrize("iid", ["a\x00b", "\ud800", "../../x", "train/../..", "train/c/.."])
def test_odd_ids_become_safe_names_inside_the_output(iid, tmp_path, writes_or_refuses):
    # Cityscapes names are rebuilt from [A-Za-z0-9_.-] (the writer's _safe); nothing is refused or escapes
    assert writes_or_refuses(ff.one_polygon_dataset(iid, (4, 6)), tmp_path / "out", "cityscapes") is not None
    names = [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")]
    assert len(names) == 3 and all(n.startswith("gtFine/") and "\x00" not in n for n in names), names


@pytest.mark.parametrize("errors", ff.UNKNOWN_ERRORS)
def test_an_unknown_errors_mode_is_a_usage_error(errors):
    ff.unknown_errors_mode_is_a_usage_error(SPEC.seeds["fixtures/cityscapes"], "cityscapes", errors)
