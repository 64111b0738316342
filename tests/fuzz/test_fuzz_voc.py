"""Structured fuzzing of the Pascal VOC reader and writer.

Seeds: ``fixtures/voc`` and ``../shared/corpus/datumaro/voc_dataset/*`` (each
skipped, with the reason, when absent). Each example copies one seed and
mutates ONE of its files: an XML element's text (special floats, huge,
empty, non-numeric), an element deleted or duplicated, bytes flipped or
cut, a PNG re-encoded (mode, size, palette, bit depth, bomb header), a file
replaced by a directory or a symbolic link out of the dataset, an odd file
name, or an ``ImageSets`` list with odd or non-UTF-8 lines.

Property: that of ``_folder_fuzz.round_trip``; what is read is written back as VOC, and the
mutated folder streams to the dataset read (or is refused where the read refused).
"""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)


def mutate_xml(path: Path, data) -> str:
    """Change one element of an annotation file: its text, or delete / duplicate / nest it."""
    tree = ET.parse(path)
    root = tree.getroot()
    elements = list(root.iter())
    el = data.draw(st.sampled_from(elements), "element")
    kind = data.draw(st.sampled_from(["text", "text", "delete", "duplicate", "empty", "nest"]), "xml edit")
    parents = {c: p for p in root.iter() for c in p}
    if kind == "text":
        el.text = data.draw(st.sampled_from(ff.mut.ODD_TEXT), "text")
    elif kind == "empty":
        el.text = None
        for c in list(el):
            el.remove(c)
    elif el in parents:
        parent = parents[el]
        if kind == "delete":
            parent.remove(el)
        elif kind == "duplicate":
            parent.insert(list(parent).index(el), el)
        else:
            holder = ET.SubElement(parent, "nest")
            for _ in range(data.draw(st.sampled_from([2, 70, 1200]), "depth")):
                holder = ET.SubElement(holder, "nest")
    path.write_bytes(ET.tostring(root, encoding="unicode").encode("utf-8", "surrogatepass"))
    return f"{path.name}: {kind} <{el.tag}>"


SPEC = ff.FolderFuzz(
    "voc",
    seeds={"fixtures/voc": ff.REPO / "fixtures" / "voc",
           **{f"datumaro/{n}": ff.DATUMARO / "voc_dataset" / n for n in ("voc_dataset1", "voc_dataset2",
                                                                         "voc_dataset3")}},
    kinds=ff.by_suffix({".xml": ["xml"] * 4, ".png": ["png"] * 3, ".txt": ["lines"] * 3}),
    mutators={"xml": mutate_xml},
    write_choices={"mask_mode": [None, "P", "RGB"]},
)


@ff.FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses,
                                                                 streams_or_refuses):
    ff.round_trip(SPEC, "fixtures/voc", data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SPEC.seeds if k.startswith("datumaro/")]))
def test_mutated_datumaro_voc_reads_or_refuses_and_writes_or_refuses(data, seed, reads_or_refuses,
                                                                     writes_or_refuses, streams_or_refuses):
    ff.round_trip(SPEC, seed, data, reads_or_refuses, writes_or_refuses, streams_or_refuses)


def test_the_unmutated_seeds_read_and_write_back(tmp_path, reads_or_refuses, writes_or_refuses):
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, annotated=False)


@settings(ff.FUZZ, max_examples=ff.LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ff.hostile_dataset_writes_or_refuses("voc", data, writes_or_refuses)


@pytest.mark.parametrize("iid, size, message", ff.NAMES_NO_FILE_CAN_HAVE + ff.SIZES_NO_FILE_CAN_HOLD)
def test_the_writer_refuses_what_no_file_can_hold_before_writing(iid, size, message, tmp_path, writes_or_refuses):
    ff.refused_before_writing("voc", iid, size, message, tmp_path, writes_or_refuses)


@pytest.mark.parametrize("errors", ff.UNKNOWN_ERRORS)
def test_an_unknown_errors_mode_is_a_usage_error(errors):
    ff.unknown_errors_mode_is_a_usage_error(SPEC.seeds["fixtures/voc"], "voc", errors)
