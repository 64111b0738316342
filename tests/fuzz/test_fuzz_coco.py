"""Structured fuzzing of the COCO instances reader and writer.

Each example takes a seed (``fixtures/coco/annotations.json`` or a COCO file
of the shared corpus, ``../shared/corpus/datumaro/coco_dataset``) and mutates
it: a value anywhere swapped for a hostile one (a list, an object, a string,
null, a boolean, NaN, infinity, -1, 1e308, 2**70, deep nesting, literals no
Python value dumps to such as ``1e999``, a 400-digit integer or a lone
surrogate), huge or negative sizes, keys deleted, records duplicated, then
bytes flipped or the text truncated. The property (``tests/fuzz/conftest.py``):
the reader returns a dataset or refuses with a one-line SegmillError, in
every ``errors`` mode, and a dataset it returns is written back as COCO or
refused just as cleanly.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segmill
from segmill.errors import InputError, LimitError, UsageError
from segmill.formats import _coco_read
from segmill.formats import coco as coco_format
from segmill.geometry import InvalidGeometry

_spec = importlib.util.spec_from_file_location("_json_mutations", Path(__file__).with_name("_json_mutations.py"))
jm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jm)

pytestmark = pytest.mark.usefixtures("small_pixel_limit")  # what a writer may rasterize: over 2 Mpx is refused

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "coco" / "annotations.json"
CORPUS = ROOT.parent / "shared" / "corpus" / "datumaro" / "coco_dataset"
CASES = Path(__file__).resolve().parent / "corpus" / "coco"
MODES = ["raise", "skip", "keep"]

HOSTILE = jm.BASE_HOSTILE + [
    {"size": [2, 2], "counts": [4]}, "a\x00b", "../../x", [[0, 0, 4, 0, 4, 4]], [[0, 0, 4]], [["0", 0, 4, 0, 4, 4]],
]
#: Sizes for width/height/RLE size: zero, negative, beyond int32/uint32, beyond the pixel limit.
SIZES = [0, -1, 1, 10**5, 2**31, 2**32, 10**12, 2**64, 9_000, 89_478_486]
#: JSON text spliced in where no Python value dumps to it.
LITERALS = jm.BASE_LITERALS + [
    '{"size": [Infinity, 8], "counts": "0"}', '{"size": [100000, 100000], "counts": [10000000000]}',
    "[NaN, Infinity, -Infinity, 0, 0, 0]",
]


def _corpus_seeds() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.glob("*/**/*.json") if "panoptic" not in p.name)


SEEDS = [FIXTURE] + _corpus_seeds()


def mutate(doc, ops, edit) -> bytes:
    """``doc`` with ``ops`` applied, as JSON bytes, then one byte edit."""
    return jm.mutate(doc, ops, edit, hostile=HOSTILE, sizes=SIZES, literals=LITERALS)


mutation = jm.mutation
byte_edit = jm.byte_edits(3)
_DOCS: dict = {}


def _doc(seed: Path):
    if seed not in _DOCS:
        _DOCS[seed] = json.loads(seed.read_text(encoding="utf-8"))
    return _DOCS[seed]


def round_trip(data: bytes, mode: str, reads_or_refuses, writes_or_refuses, **read_opts):
    """Read ``data`` as coco in a fresh folder; write what is read back. Returns the dataset."""
    return jm.file_round_trip(data, "annotations.json", "coco", mode, reads_or_refuses, writes_or_refuses,
                              **read_opts)


# ------------------------------------------------------------------ properties
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(mutation, min_size=1, max_size=3), edit=byte_edit, mode=st.sampled_from(MODES))
def test_mutated_fixture_is_read_or_refused_and_written_back_or_refused(reads_or_refuses, writes_or_refuses,
                                                                          ops, edit, mode):
    round_trip(mutate(_doc(FIXTURE), ops, edit), mode, reads_or_refuses, writes_or_refuses)


@pytest.mark.corpus
@pytest.mark.skipif(len(SEEDS) == 1, reason=f"external corpus not found at {CORPUS}")
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS[1:] or [FIXTURE]), ops=st.lists(mutation, min_size=1, max_size=3),
       edit=byte_edit, mode=st.sampled_from(MODES))
def test_mutated_corpus_files_are_read_or_refused_and_written_back_or_refused(reads_or_refuses,
                                                                               writes_or_refuses, seed, ops, edit,
                                                                               mode):
    round_trip(mutate(_doc(seed), ops, edit), mode, reads_or_refuses, writes_or_refuses)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(mutation, min_size=1, max_size=3), mode=st.sampled_from(MODES))
def test_the_compact_parse_of_big_files_is_just_as_safe(reads_or_refuses, writes_or_refuses, ops, mode):
    # Files of 64 MB and more are parsed with polygons compacted to array('d'): another path.
    with mock.patch.object(_coco_read, "COMPACT_BYTES", 0):
        round_trip(mutate(_doc(FIXTURE), ops, ("none", 0, 0)), mode, reads_or_refuses, writes_or_refuses)


@settings(max_examples=int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=3), edit=byte_edit)
def test_a_mutated_file_streams_to_what_it_reads_or_both_refuse(tmp_path_factory, streams_or_refuses, seed, ops,
                                                                 edit):
    # The streaming index (formats/_coco_stream.py) is a second reader of the same bytes.
    path = tmp_path_factory.mktemp("stream") / "annotations.json"
    path.write_bytes(mutate(_doc(seed), ops, edit))
    try:
        whole = segmill.read(path, "coco")
    except segmill.errors.SegmillError:
        whole = None
    with mock.patch.object(coco_format, "STREAM_BYTES", 0):
        streams_or_refuses(path, "coco", whole)


# ------------------------------------------------------------- known crashers
def test_the_unmutated_fixture_reads_and_writes_back(reads_or_refuses, writes_or_refuses):
    ds = round_trip(FIXTURE.read_bytes(), "raise", reads_or_refuses, writes_or_refuses)
    assert ds is not None and ds.num_annotations == 5


@pytest.mark.parametrize("case", jm.regression_cases(CASES), ids=lambda p: p.name)
@pytest.mark.parametrize("mode", MODES)
def test_regression_cases_in_every_errors_mode(reads_or_refuses, writes_or_refuses, case, mode):
    jm.expect_case_outcome(case, mode, round_trip(case.read_bytes(), mode, reads_or_refuses, writes_or_refuses))


def test_an_unknown_errors_mode_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="bogus"):
        segmill.read(FIXTURE, "coco", errors="bogus")


def _one_image(tmp_path, **image):
    doc = {"images": [dict({"id": 1, "file_name": "a.png"}, **image)], "annotations": [],
           "categories": [{"id": 1, "name": "a"}]}
    p = tmp_path / "in.json"
    p.write_text(json.dumps(doc))
    return p


def test_image_sizes_over_the_pixel_limit_are_refused_before_anything_else(tmp_path):
    with mock.patch.dict(os.environ, {"SEGMILL_MAX_PIXELS": "100"}):
        with pytest.raises(LimitError, match="pixel limit"):
            segmill.read(_one_image(tmp_path, width=11, height=10), "coco")
        assert segmill.read(_one_image(tmp_path, width=10, height=10), "coco").items[0].size == (10, 10)
        ds = segmill.read(_one_image(tmp_path, width=11, height=10), "coco", errors="skip")
        assert ds.items == [] and "pixel limit" in ds.meta["skipped"][0]["reason"]


def test_an_rle_over_the_pixel_limit_is_not_decoded_even_in_keep_mode(tmp_path):
    doc = {"images": [{"id": 1, "file_name": "a.png"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                            "segmentation": {"size": [60_000, 100_000], "counts": [6_000_000_000]}}],
           "categories": [{"id": 1, "name": "a"}]}
    p = tmp_path / "in.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="annotation id 1.*2\\*\\*32"):
        segmill.read(p, "coco")
    ds = segmill.read(p, "coco", errors="keep")
    (ann,) = ds.items[0].annotations
    assert isinstance(ann.geometry, InvalidGeometry)
    with pytest.raises(InputError):
        segmill.write(ds, tmp_path / "out.json", "coco")
    assert not (tmp_path / "out.json").exists()


def test_a_kept_box_only_annotation_with_a_null_bbox_has_no_geometry(tmp_path):
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [],
                            "bbox": [None, 0, 1, 1]}],
           "categories": [{"id": 1, "name": "a"}]}
    p = tmp_path / "in.json"
    p.write_text(json.dumps(doc))
    ds = segmill.read(p, "coco", errors="keep")
    (ann,) = ds.items[0].annotations
    assert ann.bbox is None and ann.extra["bbox"] == [None, 0, 1, 1] and ann.geometry is None


def test_the_writer_refuses_to_rasterize_an_image_over_the_pixel_limit(tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 10_000, 10_000,
                                           [Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 4]]))])])
    with pytest.raises(LimitError, match="image id 1"):
        segmill.write(ds, tmp_path / "out.json", "coco", segmentation="rle")
    assert list(tmp_path.iterdir()) == []


def test_a_lone_surrogate_is_written_back_escaped(tmp_path):
    p = _one_image(tmp_path)
    p.write_text(p.read_text().replace('"a.png"', '"\\ud800.png"'))
    ds = segmill.read(p, "coco")
    segmill.write(ds, tmp_path / "out.json", "coco")
    assert segmill.read(tmp_path / "out.json", "coco").items[0].file_name == "\ud800.png"


@pytest.mark.parametrize("field, literal", [("bbox", "[1e999, 0.5, 1.5, 1.5]"), ("area", "1e999"),
                                            ("score", "-1e999"), ("area", "1" + "0" * 400)])
def test_numbers_beyond_the_float_range_never_reach_the_model(tmp_path, field, literal):
    # The parser turns 1e999 into infinity without a NaN/Infinity literal to flag it.
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 2, 0, 2, 2]],
                            "bbox": [0.0, 0.0, 2.0, 2.0], "area": 2.0, "iscrowd": 0, field: "@"}],
           "categories": [{"id": 1, "name": "a"}]}
    p = tmp_path / "in.json"
    p.write_text(json.dumps(doc).replace('"@"', literal))
    with pytest.raises(InputError, match=f"annotation id 1 .*{field} must be"):
        segmill.read(p, "coco")
    # keep mode holds what a float can (infinity included, for segmill check to report) and carries the rest
    # (a record with a bad score is dropped even then)
    anns = segmill.read(p, "coco", errors="keep").items[0].annotations
    assert len(anns) == (field != "score")
    for ann in anns:
        assert all(type(v) is float or -1e308 < v < 1e308 for v in (*(ann.bbox or ()), ann.area or 0))
