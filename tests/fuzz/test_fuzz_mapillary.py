"""Structured fuzzing of the Mapillary Vistas reader (read only: what it returns is written as COCO).

Seeds: ``fixtures/mapillary/basic`` (v1.2 and v2.0: paletted and grey
labels, 16-bit instances, panoptic PNGs + JSON, official ``[x, y]``
polygons, a void label) and ``../shared/corpus/datumaro/mapillary_vistas_dataset``
(Datumaro's flat polygon parts and ``heigth``; skipped, with the reason, when
absent). Each example copies one seed and mutates ONE file: a JSON value
replaced / deleted / duplicated, a PNG re-encoded (mode, size, palette, bit
depth, bomb header), bytes flipped or cut, a file made a directory or a
symbolic link out of the dataset, an odd file name. ``version`` and
``source`` pick the files read.

Property: that of ``_folder_fuzz.round_trip``; what is read is written as COCO (Mapillary Vistas is read only),
and the stream (``mapillary.stream``: the panoptic JSON indexed) gives what the read gives, or refuses alike.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

SOURCES = ["auto", "instances", "panoptic", "labels", "polygons"]
SPEC = ff.FolderFuzz(
    "mapillary",
    seeds={"fixtures/mapillary": ff.REPO / "fixtures" / "mapillary" / "basic",
           "datumaro/mapillary_vistas": ff.DATUMARO / "mapillary_vistas_dataset"},
    kinds=ff.by_suffix({".png": ["png"] * 3, ".json": ["json"] * 5}),
    read_choices={"source": SOURCES, "version": [None, "v1.2", "v2.0"]},
    write_fmt="coco",
)


#: The seeds present (a seed drawn but absent would skip the whole test): the fixture at least.
PRESENT = sorted(k for k, path in SPEC.seeds.items() if path.is_dir())


@ff.FUZZ
@given(data=st.data(), seed=st.sampled_from(PRESENT))
def test_mutated_seeds_read_or_refuse_and_write_or_refuse(data, seed, reads_or_refuses, writes_or_refuses,
                                                          streams_or_refuses):
    ff.round_trip(SPEC, seed, data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("version", ["v1.2", "v2.0"])
def test_the_unmutated_seeds_read_and_write(source, version, tmp_path, reads_or_refuses, writes_or_refuses):
    if source == "polygons" and version == "v1.2":
        pytest.skip("v1.2 has no polygons")
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, annotated=False, source=source,
                         version=version)
