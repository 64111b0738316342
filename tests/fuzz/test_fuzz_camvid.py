"""Structured fuzzing of the CamVid reader and writer.

Seeds: ``fixtures/camvid`` (a custom ``label_colors.txt``, RGB annotations,
an image-only line) and ``../shared/corpus/datumaro/camvid_dataset`` (the 32
CamVid classes; skipped, with the reason, when absent). Each example copies
one seed and mutates ONE file: an annotation re-encoded (mode, size, palette,
bit depth, colours of no label, bomb header), a list or ``label_colors.txt``
line (odd paths, ``../../x``, quotes, non-UTF-8, duplicates, hundreds), bytes
flipped or cut, a file made a directory or a symbolic link out of the
dataset, an odd file name.

Property: that of ``_folder_fuzz.round_trip``; what is read is written back as CamVid.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

SPEC = ff.FolderFuzz(
    "camvid",
    seeds={"fixtures/camvid": ff.REPO / "fixtures" / "camvid", "datumaro/camvid": ff.DATUMARO / "camvid_dataset"},
    kinds=ff.by_suffix({".png": ["png"] * 3, ".txt": ["lines"] * 4}),
    write_choices={"mask_mode": [None, "RGB", "L"]},
)


@ff.FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                 streams_or_refuses):
    ff.round_trip(SPEC, "fixtures/camvid", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 30)
@given(data=st.data())
def test_mutated_datumaro_camvid_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                        streams_or_refuses):
    ff.round_trip(SPEC, "datumaro/camvid", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


def test_the_unmutated_seeds_read_and_write_back(tmp_path, reads_or_refuses, writes_or_refuses):
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ff.hostile_dataset_writes_or_refuses("camvid", data, writes_or_refuses)
