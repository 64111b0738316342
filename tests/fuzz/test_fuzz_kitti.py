"""Structured fuzzing of the KITTI segmentation reader and writer.

Seeds: ``fixtures/kitti`` (instance/ and semantic/ maps, an image-only
testing split) and ``../shared/corpus/datumaro/kitti_dataset/kitti_segmentation``
(skipped, with the reason, when absent); a ``label_colors.txt`` variant of the
fixture reaches the custom-table path. Each example copies one seed and
mutates ONE file: a map re-encoded (mode, size, palette, bit depth, values
outside the table, bomb header), ``label_colors.txt`` lines (odd, duplicated,
non-UTF-8, hundreds), bytes flipped or cut, a file made a directory or a
symbolic link out of the dataset, an odd file name. ``source`` picks the map.

Property: that of ``_folder_fuzz.round_trip``; what is read is written back as KITTI.
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


def _custom_table(root: Path) -> None:
    """The custom-table path: 40 labels (the seeds use values up to 31), line order = value."""
    (root / "label_colors.txt").write_text("".join(f"{i} {i} {i} label {i}\n" for i in range(40)))


def _maybe_custom(root: Path, name: str, data) -> None:
    if data.draw(st.booleans(), "custom table"):
        _custom_table(root)


SPEC = ff.FolderFuzz(
    "kitti",
    seeds={"fixtures/kitti": ff.REPO / "fixtures" / "kitti",
           "datumaro/kitti_segmentation": ff.DATUMARO / "kitti_dataset" / "kitti_segmentation"},
    kinds=ff.by_suffix({".png": ["png"] * 3, ".txt": ["lines"] * 3}),
    read_choices={"source": ["auto", "instance", "semantic"]},
    write_choices={"label_table": ["auto", "official", "custom"]},
    prepare=_maybe_custom,
)


@ff.FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                 streams_or_refuses):
    ff.round_trip(SPEC, "fixtures/kitti", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 30)
@given(data=st.data())
def test_mutated_datumaro_kitti_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                       streams_or_refuses):
    ff.round_trip(SPEC, "datumaro/kitti_segmentation", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@pytest.mark.parametrize("custom", [False, True])
def test_the_unmutated_seeds_read_and_write_back(custom, tmp_path, reads_or_refuses, writes_or_refuses):
    def copy(name: str, dst: Path) -> Path:
        root = ff.mut.copy_seed(SPEC.seeds[name], dst)
        if custom:
            _custom_table(root)
        return root

    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, copy=copy)


@settings(ff.FUZZ, max_examples=ff.LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ff.hostile_dataset_writes_or_refuses("kitti", data, writes_or_refuses)
