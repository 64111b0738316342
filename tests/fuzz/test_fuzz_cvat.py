"""Structured fuzzing of the CVAT for images XML reader and writer.

Each example copies a seed dataset (a bundled fixture or a CVAT export of
the shared corpus) into a fresh folder and mutates its XML: attribute values
swapped for hostile ones (non-numbers, NaN/inf, 20-digit integers, negative
sizes, malformed point lists and mask runs, names leaving the folder),
attributes and elements deleted, duplicated or renamed, entity declarations
and deep nesting added, bytes flipped, the text truncated. The property
(``tests/fuzz/conftest.py``): the reader returns a dataset or refuses with a
one-line SegmillError in every ``errors`` mode, its stream takes what it
takes and refuses what it refuses, and a dataset it returns is written back
as CVAT or refused just as cleanly.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_json_mutations", Path(__file__).with_name("_json_mutations.py"))
jm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jm)

pytestmark = pytest.mark.usefixtures("small_pixel_limit")  # decoded masks stay small: over 2 Mpx is refused
ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "datumaro" / "cvat_dataset" / "for_images"
#: Examples per run; SEGMILL_FUZZ_EXAMPLES=5000 makes a longer campaign.
EXAMPLES = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "150"))

VALUES = ["", "nan", "inf", "-inf", "-1", "0", "1", "3", "1e400", "99999999999999999999", "-99999999999999999999",
          "1.5", " 5 ", "\u0661\u0662", "1,2;3", "1,2;3,4;5,6", "0,0;1e308,0;0,1e308", "0, 5", "1, 2, 3, 4",
          "2, 2", "99999999999999999999, 1", "a", "../../x.png", "/etc/passwd", "x" * 300, "1_0", "0x10", "+3",
          "1e-320", "20000", "-0", "true", "a.png", "Train", "..", "img0.png", "a\tb"]
ATTRS = ["id", "name", "width", "height", "label", "points", "rle", "left", "top", "xtl", "ytl", "xbr", "ybr",
         "z_order", "group_id", "occluded", "subset", "source", "rotation"]
TAGS = ["box", "polygon", "mask", "polyline", "points", "image", "tag", "cuboid", "attribute", "label", "track",
        "meta", "name"]
PROLOGUES = ["", '<!DOCTYPE annotations [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;">]>',
             '<!DOCTYPE annotations [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "<!DOCTYPE annotations>"]


def _seeds() -> list[tuple[Path, str]]:
    """``(dataset folder, XML name)`` of every seed."""
    fx = ROOT / "fixtures" / "cvat"
    seeds = [(fx / "basic", "annotations.xml"), (fx / "bad_rle", "annotations.xml"),
             (fx / "escape", "annotations.xml")]
    if CORPUS.is_dir():
        seeds += [(CORPUS / "export_task", "train.xml"), (CORPUS / "export_project", "annotations.xml")]
    return seeds


SEEDS = _seeds()

mutation = st.tuples(st.sampled_from(["set"] * 5 + ["unset", "drop", "copy", "retag", "text"]),
                     st.integers(0, 10**6), st.sampled_from(ATTRS), st.sampled_from(VALUES), st.sampled_from(TAGS))
byte_edit = st.tuples(st.sampled_from(["flip", "truncate", "deep"] + ["none"] * 7), st.integers(0, 10**6),
                      st.integers(0, 255))


def _mutate(root: ET.Element, op, where, attr, value, tag) -> None:
    elements = [(parent, child) for parent in root.iter() for child in parent]
    if not elements:
        return
    parent, el = elements[where % len(elements)]
    if op == "set":
        keys = list(el.attrib) or [attr]
        el.set(keys[where % len(keys)] if where % 3 else attr, value)
    elif op == "unset":
        el.attrib.pop(next(iter(el.attrib), attr), None)
    elif op == "drop":
        parent.remove(el)
    elif op == "copy":
        parent.append(copy.deepcopy(el))
    elif op == "retag":
        el.tag = tag
    else:
        el.text = value


def _mutated(xml_file: Path, ops, prologue, edit) -> bytes:
    root = ET.parse(xml_file).getroot()
    for op in ops:
        _mutate(root, *op)
    text = ET.tostring(root, encoding="unicode")
    data = ('<?xml version="1.0" encoding="utf-8"?>\n' + prologue + "\n" + text).encode("utf-8")
    kind, pos, _ = edit
    if kind == "deep":  # elements nested thousands deep inside the first <image>
        at = data.find(b"<image")
        at = data.find(b">", at) + 1 if at >= 0 else data.rfind(b"</annotations>")
        depth = 50 + pos % 5000
        return data[:at] + b"<x>" * depth + b"</x>" * depth + data[at:]
    return jm.edit_bytes(data, edit)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=4),
       prologue=st.sampled_from(PROLOGUES + [""] * 16), edit=byte_edit, mode=st.sampled_from(["raise", "skip", "keep"]),
       whole_folder=st.booleans())
def test_mutated_cvat_is_read_or_refused_and_written_back_or_refused(
        reads_or_refuses, writes_or_refuses, streams_or_refuses, seed, ops, prologue, edit, mode, whole_folder):
    folder, xml_name = seed
    data = _mutated(folder / xml_name, ops, prologue, edit)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        shutil.copytree(folder, src, copy_function=shutil.copyfile)
        (src / xml_name).write_bytes(data)
        path = src if whole_folder and xml_name == "annotations.xml" else src / xml_name
        ds = reads_or_refuses(path, "cvat", errors=mode)
        if mode != "keep":  # keep reads whole, and keeps repeated image ids that a stream refuses
            streams_or_refuses(path, "cvat", ds, errors=mode)
        if ds is not None and mode != "keep":
            writes_or_refuses(ds, Path(tmp) / "out", "cvat")


@pytest.mark.parametrize("count", ["99999999999999999999", "18446744073709551617", "1" * 4000],
                         ids=["20_digits", "2**64+1", "4000_digits"])
def test_mask_runs_beyond_64_bits_are_refused_before_allocation(reads_or_refuses, tmp_path, count):
    (tmp_path / "annotations.xml").write_text(
        '<annotations><version>1.1</version><meta><task><labels><label><name>a</name></label></labels></task>'
        '</meta><image id="0" name="a.png" width="4" height="4">'
        f'<mask label="a" left="0" top="0" width="2" height="2" rle="{count}, 1"/></image></annotations>')
    assert reads_or_refuses(tmp_path / "annotations.xml", "cvat") is None


def test_a_label_attribute_named_like_a_shape_field_round_trips(tmp_path):
    import segmill

    (tmp_path / "annotations.xml").write_text(
        '<annotations><version>1.1</version><meta><task><labels><label><name>a</name></label></labels></task>'
        '</meta><image id="0" name="a.png" width="4" height="4">'
        '<box label="a" xtl="0" ytl="0" xbr="1" ybr="1" z_order="2"><attribute name="group_id">g</attribute>'
        '</box><box label="a" xtl="0" ytl="0" xbr="1" ybr="1"><attribute name="z_order">top</attribute></box>'
        '</image></annotations>')
    ds = segmill.read(tmp_path / "annotations.xml", "cvat")
    segmill.write(ds, tmp_path / "out", "cvat")
    back = segmill.read(tmp_path / "out", "cvat")
    assert [a.attributes for a in back.items[0].annotations] == [a.attributes for a in ds.items[0].annotations]
    assert ds.items[0].annotations[1].attributes == {"z_order": "top"}


def test_writer_refuses_names_xml_cannot_hold(tmp_path):
    import segmill
    from segmill.errors import InputError
    from segmill.model import Dataset, Item

    ds = Dataset(items=[Item(1, "a\x00b.png", 4, 4)])
    with pytest.raises(InputError, match="XML cannot hold"):
        segmill.write(ds, tmp_path / "out", "cvat")
    assert not (tmp_path / "out").exists()
