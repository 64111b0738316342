"""Structured fuzzing of the Open Images segmentation reader (read only: what it returns is written as COCO).

Seeds: ``fixtures/open_images/basic`` (masks at half, double and odd
resolutions, ``images.meta``, an undescribed class) and
``../shared/corpus/datumaro/open_images_dataset/v6`` (skipped, with the
reason, when absent). Each example copies one seed and mutates ONE file: a
CSV or ``images.meta`` line edited (odd numbers and names, non-UTF-8 bytes,
duplicates, nothing), a mask PNG re-encoded (mode, size, palette, bit depth,
bomb header), bytes flipped or cut, a file made a directory or a symbolic
link out of the dataset, an odd file name.

Property: that of ``_folder_fuzz.round_trip``; what is read is written as COCO (Open Images is read only),
and the stream gives what the read gives (or refuses where it refuses).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

SPEC = ff.FolderFuzz(
    "open_images",
    seeds={"fixtures/open_images": ff.REPO / "fixtures" / "open_images" / "basic",
           "datumaro/open_images/v6": ff.DATUMARO / "open_images_dataset" / "v6"},
    # CSVs most often
    files=lambda root: [p for p in ff.mut.files_of(root) for _ in range(4 if p.suffix == ".csv" else 1)],
    kinds=ff.by_suffix({".png": ["png"] * 3, ".csv": ["lines"] * 5, ".meta": ["lines"] * 3, ".json": ["json"] * 2}),
    write_fmt="coco",
)


#: The seeds present (an absent one drawn would skip the whole test): all of them, to skip when none is.
PRESENT = sorted(n for n, p in SPEC.seeds.items() if p.is_dir()) or sorted(SPEC.seeds)


@ff.FUZZ
@given(data=st.data(), seed=st.sampled_from(PRESENT))
def test_mutated_seeds_read_or_refuse_and_write_or_refuse(data, seed, reads_or_refuses, writes_or_refuses,
                                                          streams_or_refuses):
    ff.round_trip(SPEC, seed, data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


def test_the_unmutated_seeds_read_and_write(tmp_path, reads_or_refuses, writes_or_refuses):
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, annotated=False)
