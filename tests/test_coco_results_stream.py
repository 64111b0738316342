"""COCO results read as a stream (``coco_results.stream``): the span index, then a batch of images at a time.

The oracle is the whole read: the same items (images in order of first
appearance, sized by their first record), categories and meta (the file
order of the annotations included), the same error for what the read
refuses (the stream then reads whole); the same ``segmill check`` findings;
a streamed conversion writes the bytes of the whole write.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import segmill
from segmill.errors import InputError
from segmill.formats import _coco_results_stream, _coco_stream, coco_results
from segmill.rle import encode

_spec = importlib.util.spec_from_file_location("_read_stream", Path(__file__).with_name("_read_stream.py"))
R = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(R)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "coco"


@pytest.fixture(autouse=True)
def small_runs(monkeypatch):
    """Runs of 3 records, batches of 2 images: every path across runs and batches is taken."""
    monkeypatch.setattr(_coco_results_stream, "RUN", 3)
    monkeypatch.setattr(_coco_stream, "BATCH", 2)


def same_as_read(path, bounded=True, **options):
    """The stream of ``path`` gives what :func:`segmill.read` gives (or its error); the dataset read."""
    whole, err = R.outcome(lambda: segmill.read(path, "coco_results", **options))
    st, serr = R.outcome(lambda: segmill.stream(path, "coco_results", **options))
    if serr is None:
        assert bounded is None or st.bounded == bounded
        if err is None and st.bounded:  # what the header says before the first item
            assert st.header.categories == whole.categories and set(st.header.meta) <= set(whole.meta)
        got, serr = R.outcome(st.to_dataset)
    assert serr == err
    if err is None:
        assert got == whole and got.meta == whole.meta and got.items == whole.items
    return whole


def results(n_images: int = 9, n: int = 40, seed: int = 0) -> list:
    """Detections of ``n_images`` images, scattered: compressed RLEs (a few at another size), polygons, boxes."""
    rng = np.random.default_rng(seed)
    sizes = {100 + i: (int(rng.integers(3, 9)), int(rng.integers(3, 9))) for i in range(n_images)}
    out = []
    for _ in range(n):
        iid = int(rng.choice(list(sizes)))
        h, w = sizes[iid]
        kind = rng.choice(["rle", "rle", "poly", "box"])
        rec = {"image_id": iid, "category_id": int(rng.choice([3, 1, 7, 12]))}
        if kind == "rle":
            rec["segmentation"] = encode(rng.random((h, w)) < 0.5).to_coco(compressed=True)
        elif kind == "poly":
            rec["segmentation"] = [[0, 0, w - 1, 0, w - 1, h - 1]]
        else:
            rec["bbox"] = [0.5, 1.0, 2.0, 1.5]
        rec["score"] = round(float(rng.random()), 3)
        out.append(rec)
    return out


def _write(tmp_path, recs, name="r.json") -> Path:
    f = tmp_path / name
    f.write_text(json.dumps(recs))
    return f


def test_the_fixture_streams_as_it_reads():
    ds = same_as_read(FIXTURES / "results.json")
    assert [it.id for it in ds.items] == [42, 7]


@pytest.mark.parametrize("seed", range(6))
def test_built_results_stream_as_they_read(tmp_path, seed):
    ds = same_as_read(_write(tmp_path, results(seed=seed)))
    assert len(ds.items) >= 7 and ds.num_annotations == 40


def test_an_empty_list_streams(tmp_path):
    ds = same_as_read(_write(tmp_path, []))
    assert ds.items == [] and ds.categories == []


def test_items_come_a_batch_at_a_time(tmp_path, monkeypatch):
    f = _write(tmp_path, results(seed=3))
    calls = []
    real = _coco_stream.CocoItems._attach_at
    monkeypatch.setattr(_coco_stream.CocoItems, "_attach_at", lambda self, fd, items, pos:
                        calls.append(len(items)) or real(self, fd, items, pos))
    st = segmill.stream(f, "coco_results")
    assert st.bounded and calls == [] and getattr(st._items, "ids_unique", False)
    it = iter(st)
    next(it)
    next(it)
    assert calls == [2]
    next(it)
    assert calls == [2, 2]
    rest = list(it)
    assert sum(calls) == 3 + len(rest)


def test_the_index_keeps_a_few_bytes_a_record_and_an_image(tmp_path):
    f = _write(tmp_path, results(n_images=20, n=300, seed=1))
    index, cats, sizes = _coco_results_stream.results_index(f, coco_results._Errors("raise", f))
    assert len(index.annotations) == 300 and len(index.image_ids) == len(sizes) == 20
    assert index.annotations.nbytes == 16 * 300 and index.by_image.nbytes == 4 * 300
    assert index.images.base is not None and index.images.strides == (0, 8)  # a count, not a copy
    assert cats == {1, 3, 7, 12}


@pytest.mark.parametrize("change", [
    "an id", "a string image id", "a string category id", "NaN", "no score", "a bad rle", "not an object",
    "bad json", "a dict", "bom", "trailing text",
])
def test_what_the_index_cannot_vouch_for_is_read_whole(tmp_path, change):
    recs = results(seed=2)
    text = None
    if change == "an id":
        recs[3]["id"] = 5
    elif change == "a string image id":
        recs[7]["image_id"] = "x"
    elif change == "a string category id":
        recs[7]["category_id"] = "cat"
    elif change == "NaN":
        recs[5]["score"] = float("nan")
    elif change == "no score":
        del recs[9]["score"]
    elif change == "a bad rle":
        recs[20]["segmentation"] = {"size": [4, 4], "counts": "~~~"}
    elif change == "not an object":
        recs[11] = 4
    elif change == "bad json":
        text = json.dumps(recs)[:-40]
    elif change == "a dict":
        text = json.dumps({"annotations": recs})
    elif change == "bom":
        text = "\ufeff" + json.dumps(recs)
    else:
        text = json.dumps(recs) + " x"
    f = tmp_path / "r.json"
    f.write_text(text if text is not None else json.dumps(recs), encoding="utf-8")
    assert coco_results.stream(f) is None
    same_as_read(f, bounded=False)


@pytest.mark.parametrize("value", [10**30, -(2**63), 1e308, "\u00e9\ud83d\ude00", {"a": [1, {"b": None}]}, True])
@pytest.mark.parametrize("key", ["area", "extra_key", "attributes", "iscrowd"])
def test_odd_values_stream_or_read_whole_alike(tmp_path, key, value):
    recs = results(seed=7)
    recs[4][key] = value
    same_as_read(_write(tmp_path, recs), bounded=None)


def test_lenient_modes_and_an_instances_file_read_whole():
    f = FIXTURES / "results.json"
    for errors in ("skip", "keep"):
        assert coco_results.stream(f, errors=errors) is None
        same_as_read(f, bounded=False, errors=errors)
    assert coco_results.stream(f, images=FIXTURES / "annotations.json") is None
    same_as_read(f, bounded=False, images=FIXTURES / "annotations.json")


def test_a_record_changed_after_the_index_is_refused(tmp_path):
    recs = results(seed=4)
    f = _write(tmp_path, recs)
    st = segmill.stream(f, "coco_results")
    recs[-1]["image_id"] = 99_999  # the same length? no: any change that moves the spans
    f.write_text(json.dumps(recs))
    with pytest.raises(InputError):
        st.to_dataset()


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(tmp_path, monkeypatch):
    R.same_check(_write(tmp_path, results(seed=5)), "coco_results", monkeypatch, found=True)


@pytest.mark.parametrize("fmt", ["masks", "voc"])
def test_convert_streams_the_bytes_of_the_whole_write(tmp_path, monkeypatch, fmt):
    src = _write(tmp_path, results(seed=6))
    R.S.same(tmp_path, fmt, src, [], {}, R.S.count_writes(monkeypatch, fmt), at_least=3)
