"""Structured fuzzing of the Label Studio reader and writer.

Each example takes a seed (the bundled fixtures: a JSON export with
polygons, rotated rectangles, brushes, a keypoint, an ellipse, two
annotators, a prediction; a JSON-MIN export; and label-studio-converter's
own export files from the shared corpus) and mutates it: JSON values swapped
for hostile ones at any path (wrong types, NaN/inf, huge numbers, deep
nesting, image references leaving the folder, brush streams that are cut,
declare billions of values or carry bytes over 255), keys deleted, values of
the document copied elsewhere, bytes flipped, the text truncated. The
property (``tests/fuzz/conftest.py``): the reader returns a dataset or
refuses with a one-line SegmillError, in every ``errors`` mode and
``annotations`` choice, its stream takes what it takes and refuses what it
refuses, and a dataset it returns is written back as Label Studio or refused
just as cleanly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_json_mutations", Path(__file__).with_name("_json_mutations.py"))
jm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jm)

pytestmark = pytest.mark.usefixtures("small_pixel_limit")  # brushes stay small: a mutated size over 2 Mpx is refused
ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "label-studio-converter"
#: Examples per run; SEGMILL_FUZZ_EXAMPLES=5000 makes a longer campaign.
EXAMPLES = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "150"))


def _stream(num: int, records: list[tuple[int, int, int, int]]) -> list[int]:
    """A brush stream of word size 8, field sizes 3, 4, 8, 16: ``(flag, index, length, value)`` records."""
    sizes = (3, 4, 8, 16)
    bits = f"{num % 2**32:032b}00111" + "".join(f"{s - 1:04b}" for s in sizes)
    for flag, idx, length, value in records:
        bits += f"{flag:b}{idx:02b}{length - 1:0{sizes[idx]}b}{value:08b}"
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i: i + 8], 2) for i in range(0, len(bits), 8)]


HOSTILE = [
    None, True, False, 0, -1, 1.5, -0.0, 2**31, 2**64, -(2**63) - 1, 10**30, 10**400,
    float("nan"), float("inf"), float("-inf"), 1e308, 5e-324,
    "", "x", "rle", "polygonlabels", "rectanglelabels", "brushlabels", "keypointlabels", "ellipselabels",
    "labels", "choices", "polygon",
    "../../x.png", "/data/local-files/?d=../../etc/passwd", "/data/upload/1/../../../x", "s3://b/../../x",
    "a\x00b", "\ud800", "we\nird", "é" * 300, "/data/upload/1/a.png", "https://example.com/a.png?x=1",
    [], {}, [[]], [1], [1, 2], [[1, 2]], [[0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]], [[1e308, 1e308], [1, 1], [2, 0]],
    [[10**30, 0], [0, 0], [1, 1]], [["1", "2"], ["3", "4"], ["5", "6"]], [[True, False], [1, 1], [0, 1]],
    [0, 0, 0], [256, 1, 2, 3, 4, 5, 6, 7], _stream(4 * 30 * 40, [(1, 3, 65536, 255)] * 3),
    _stream(2**32 - 1, [(1, 3, 65536, 1)]), _stream(16, [(0, 3, 60000, 7)]), _stream(0, []),
    _stream(4 * 30 * 40, [(0, 0, 8, 9)] * 5), {"email": "a@b.c", "id": 3}, {"email": 5},
    {"x": 1, "y": 2}, {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["z"]},
    {"format": "rle", "rle": [1, 2, 3]}, jm.deep(3), jm.deep(80),
]


def _seeds() -> list[Path]:
    fx = ROOT / "fixtures" / "label_studio"
    seeds = [fx / "tasks.json", fx / "min.json"]
    if CORPUS.is_dir():
        seeds += [CORPUS / "test_export_yolo" / "data.json", CORPUS / "test_export_yolo" / "data_polygons.json",
                  CORPUS / "test_export_json_min" / "data.json"]
    return seeds


SEEDS = _seeds()


mutation = jm.value_mutations(HOSTILE)


def _mutated(seed: Path, ops, edit) -> bytes:
    # a brush's bytes, a polygon's points: the first few items of a list are enough
    return jm.mutate_values(json.loads(seed.read_text(encoding="utf-8")), ops, edit, limit=None, max_index=12)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=4), edit=jm.value_byte_edit,
       mode=st.sampled_from(["raise", "skip", "keep"]),
       annotations=st.sampled_from(["all", "all", "latest", "none", "1", "2", "a@b.c"]), predictions=st.booleans(),
       image_root=st.booleans())
def test_mutated_label_studio_is_read_or_refused_and_written_back_or_refused(
        reads_or_refuses, writes_or_refuses, streams_or_refuses, seed, ops, edit, mode, annotations, predictions,
        image_root):
    data = _mutated(seed, ops, edit)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        (src / "imgs").mkdir(parents=True)
        target = src / "export.json"
        target.write_bytes(data)
        opts = {"errors": mode, "annotations": annotations, "predictions": predictions}
        if image_root:
            opts["image_root"] = src / "imgs"
        ds = reads_or_refuses(target, "label_studio", **opts)
        if mode != "keep":  # keep reads whole, and keeps repeated task ids that a stream refuses
            streams_or_refuses(target, "label_studio", ds, **opts)
        if ds is not None and mode != "keep":
            writes_or_refuses(ds, Path(tmp) / "out.json", "label_studio")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(70, 5000), where=st.sampled_from(["top", "data", "result", "value", "points"]))
def test_deep_nesting_is_refused_with_one_line(reads_or_refuses, depth, where):
    result = {"type": "polygonlabels", "value": {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["a"]},
              "original_width": 4, "original_height": 4}
    task = {"id": 1, "data": {"image": "a.png"}, "annotations": [{"result": [result]}]}
    marker = "__DEEP__"
    if where == "top":
        task["extra"] = marker
    elif where == "data":
        task["data"]["more"] = marker
    elif where == "result":
        task["annotations"][0]["result"].append(marker)
    elif where == "value":
        result["value"]["x"] = marker
    else:
        result["value"]["points"].append(marker)
    jm.deep_document_is_refused(reads_or_refuses, [task], marker, depth, "label_studio")


@pytest.mark.parametrize("attributes", [{"annotator": [1]}, {"annotator": {"x": 1}}, {"model_version": [2]},
                                        {"prediction": "yes"}, {"labels": [1, 2]}, {"\ud800": 1}])
def test_writer_takes_odd_attributes_from_other_formats(reads_or_refuses, writes_or_refuses, attributes, tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, 1, Polygons([[1, 1, 5, 1, 5, 5]]), attributes=attributes)
    ds = Dataset([Category(1, "cat")], [Item(1, "a.png", 10, 8, [ann])])
    report = writes_or_refuses(ds, tmp_path / "out.json", "label_studio")
    if report is not None:
        assert reads_or_refuses(tmp_path / "out.json", "label_studio") is not None
