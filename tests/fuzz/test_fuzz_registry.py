"""Every registered reader, fuzzed from its own example: the floor every format gets without a test of its own.

For each format that reads, the seed is its ``FormatSpec.example`` under
``fixtures/`` (a folder, or the folder holding the example file). Each example
copies the seed and mutates ONE file by its suffix (``.png`` re-encoded,
``.json`` values swapped or nested, text lines changed, bytes flipped or cut,
a file replaced by a directory or a link out of the dataset); the property is
that of ``_folder_fuzz.round_trip``: a ``Dataset`` or a ``SegmillError``, and
what is read writes back (as the format itself, or as COCO for a read-only
format) or is refused. The format-specific tests in this folder go deeper.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.formats import formats

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

KINDS = ff.by_suffix({".png": ["png"] * 2, ".json": ["json"] * 3, ".txt": ["lines"] * 2, ".csv": ["lines"] * 2,
                      ".xml": ["lines"] * 2, ".yaml": ["lines"] * 2})


def _fuzz_spec(name: str) -> ff.FolderFuzz:
    spec = formats()[name]
    path = ff.REPO / "fixtures" / spec.example
    folder, entry = (path.parent, path.name) if path.suffix else (path, "")
    return ff.FolderFuzz(name, seeds={"example": folder}, kinds=KINDS, entry=entry,
                         write_fmt=None if spec.write is not None else "coco")


READERS = sorted(n for n, s in formats().items() if s.read is not None)


def test_every_reader_has_an_example_under_fixtures():
    for name in READERS:
        example = formats()[name].example
        assert example and (ff.REPO / "fixtures" / example).exists(), f"{name}: FormatSpec.example {example!r}"


@pytest.mark.parametrize("fmt", READERS)
def test_the_example_reads_and_writes_back(fmt, tmp_path, reads_or_refuses, writes_or_refuses):
    ff.seeds_get_through(_fuzz_spec(fmt), tmp_path, reads_or_refuses, writes_or_refuses, annotated=False)


@pytest.mark.parametrize("fmt", READERS)
@settings(ff.FUZZ, max_examples=ff.LONG or 20)
@given(data=st.data())
def test_a_mutated_example_reads_or_refuses_and_writes_or_refuses(fmt, data, reads_or_refuses, writes_or_refuses):
    ff.round_trip(_fuzz_spec(fmt), "example", data, reads_or_refuses, writes_or_refuses)
