"""Structured fuzzing of the Pascal VOC reader and writer.

Seeds: ``fixtures/voc`` and ``../shared/corpus/datumaro/voc_dataset/*`` (each
skipped, with the reason, when absent). Each example copies one seed and
mutates ONE of its files: an XML element's text (special floats, huge,
empty, non-numeric), an element deleted or duplicated, bytes flipped or
cut, a PNG re-encoded (mode, size, palette, bit depth, bomb header), a file
replaced by a directory or a symbolic link out of the dataset, an odd file
name, or an ``ImageSets`` list with odd or non-UTF-8 lines.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes back
to VOC completely or is refused with a ``SegmillError``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import segmill

_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

REPO = Path(__file__).resolve().parents[2]
SEEDS = {
    "fixtures/voc": REPO / "fixtures" / "voc",
    **{f"datumaro/{n}": REPO.parent / "shared" / "corpus" / "datumaro" / "voc_dataset" / n
       for n in ("voc_dataset1", "voc_dataset2", "voc_dataset3")},
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _seed(name: str) -> Path:
    if not SEEDS[name].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name]


def mutate_xml(path: Path, data) -> str:
    """Change one element of an annotation file: its text, or delete / duplicate / nest it."""
    tree = ET.parse(path)
    root = tree.getroot()
    elements = list(root.iter())
    el = data.draw(st.sampled_from(elements), "element")
    kind = data.draw(st.sampled_from(["text", "text", "delete", "duplicate", "empty", "nest"]), "xml edit")
    parents = {c: p for p in root.iter() for c in p}
    if kind == "text":
        el.text = data.draw(st.sampled_from(mut.ODD_TEXT), "text")
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


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the VOC tree at ``root``."""
    files = mut.files_of(root)
    f = data.draw(st.sampled_from(files), "file")
    kinds = ["bytes", "replace"]
    if f.suffix == ".xml":
        kinds += ["xml"] * 4
    elif f.suffix == ".png":
        kinds += ["png"] * 3
    elif f.suffix == ".txt":
        kinds += ["lines"] * 3
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "xml":
        return mutate_xml(f, data)
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "lines":
        return mut.mutate_lines(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


def _round_trip(seed, data, reads_or_refuses, writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(seed, tmp / "ds")
        outside = mut.outside_png(tmp)
        note(mutate(root, data, outside))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        ds = reads_or_refuses(root, "voc", errors=errors)
        if ds is not None and errors != "keep":
            mode = data.draw(st.sampled_from([None, "P", "RGB"]), "mask_mode")
            writes_or_refuses(ds, tmp / "out", "voc", mask_mode=mode)


@FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _round_trip(_seed("fixtures/voc"), data, reads_or_refuses, writes_or_refuses)


@settings(FUZZ, max_examples=_LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SEEDS if k.startswith("datumaro/")]))
def test_mutated_datumaro_voc_reads_or_refuses_and_writes_or_refuses(data, seed, reads_or_refuses,
                                                                     writes_or_refuses):
    _round_trip(_seed(seed), data, reads_or_refuses, writes_or_refuses)


def test_the_unmutated_seeds_read_and_write_back(tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    for name, seed in SEEDS.items():
        if not seed.is_dir():
            continue
        ds = reads_or_refuses(seed, "voc")
        assert ds is not None and ds.items, name
        assert writes_or_refuses(ds, tmp_path / name.replace("/", "_"), "voc") is not None, name


@settings(FUZZ, max_examples=_LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ds = mut.hostile_dataset(data)
    with tempfile.TemporaryDirectory() as tmp:
        writes_or_refuses(ds, Path(tmp) / "out", "voc")


@pytest.mark.parametrize("iid, size, message", [
    ("a\x00b", (4, 6), "NUL byte"),
    ("a" * 300, (4, 6), "at most 255"),
    ("\ud800", (4, 6), "not valid Unicode"),
    ("zero", (0, 6), "height must be an integer in \\[1, inf\\]"),
    ("huge", (100_000, 100_000), "over the pixel limit"),
])
def test_the_writer_refuses_what_no_file_can_hold_before_writing(iid, size, message, tmp_path, writes_or_refuses):
    from segmill.errors import InputError
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3]]))
    ds = Dataset([Category(1, "car")], [Item(iid, "a.jpg", width=size[1], height=size[0], annotations=[ann])])
    with pytest.raises(InputError, match=message):
        segmill.write(ds, tmp_path / "out", "voc")
    assert list(tmp_path.iterdir()) == []
    assert writes_or_refuses(ds, tmp_path / "out", "voc") is None


@pytest.mark.parametrize("errors", ["bogus", "", None, 1])
def test_an_unknown_errors_mode_is_a_usage_error(errors):
    from segmill.errors import UsageError

    with pytest.raises(UsageError, match="errors must be one of raise, skip, keep"):
        segmill.read(SEEDS["fixtures/voc"], "voc", errors=errors)
