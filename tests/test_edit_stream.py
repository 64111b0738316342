"""Edits on a stream (``segmill convert`` with edit flags, COCO to COCO): the bytes and the reports of the
edits made on the whole dataset, one batch of images in memory.

The oracle is the in-memory path: ``segmill.write(Editor(chain)(segmill.read(src)))``. With
``STREAM_BYTES = 0`` every COCO source streams through its index; the annotations of the sources are
shuffled, so the stream writer must put the kept ones back in file order.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segmill
from segmill.errors import LossError, UsageError
from segmill.formats import coco
from segmill.io import ConvertOptions
from segmill.transforms import DropClasses, DropCrowd, Editor, KeepClasses, MapClasses, MinArea, Sample, Split
from segmill.transforms import streamed

_spec = importlib.util.spec_from_file_location("_edit_data", Path(__file__).with_name("_edit_data.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)

TRAIN_VAL = (("train", 0.7), ("val", 0.3))


@pytest.fixture(autouse=True)
def streams(monkeypatch):
    """Every COCO source streams, batches are small (several per source), and stream writes are counted."""
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    monkeypatch.setattr(streamed, "BATCH", 7)
    calls: list = []
    real = coco._write_stream
    monkeypatch.setattr(coco, "_write_stream", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def _source(folder: Path, n_images: int = 40, seed: int = 3) -> Path:
    doc = D.coco_doc(n_images, seed=seed)
    random.Random(seed).shuffle(doc["annotations"])
    return D.write_doc(folder / "src.json", doc)


def _both(src: Path, out: Path, chain, dst: str = "{}.json", **write):
    """Convert streamed and in memory; the two editors and the two write reports."""
    streamed_ed, whole_ed = Editor(chain), Editor(chain)
    out.mkdir(exist_ok=True)
    a = segmill.convert(src, out / dst.format("s"), options=ConvertOptions(edit=streamed_ed, write=write))
    b = segmill.write(whole_ed(segmill.read(src)), out / dst.format("w"), "coco", **write)
    return streamed_ed, whole_ed, a, b


def _same_reports(e1, e2, r1, r2) -> None:
    assert e1.report.to_dict() == e2.report.to_dict()
    # the losses alike; their order may differ (the stream writer reports annotations in item order)
    assert (sorted(r1.losses), r1.items, r1.annotations) == (sorted(r2.losses), r2.items, r2.annotations)


CHAINS = {
    "drop-crowd": [DropCrowd()],
    "merge": [MapClasses({"car": "vehicle"})],
    "rename": [MapClasses({"dog": "hound", "person": "human"})],
    "keep": [KeepClasses(("car", "dog"))],
    "drop": [DropClasses(("person",))],
    "min-area": [MinArea(30)],
    "sample": [Sample(17, seed=4)],
    "split": [Split(TRAIN_VAL, seed=1)],
    "stratified": [DropClasses(("dog",)), Split(TRAIN_VAL, seed=2, stratify=True)],
    "everything": [Sample(33, seed=5), MapClasses({"car": "vehicle"}), MinArea(12), DropCrowd(),
                   Split((("a", 0.5), ("b", 0.25), ("c", 0.25)), seed=6, stratify=True), Sample(20, seed=7)],
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_a_streamed_edit_writes_the_bytes_and_reports_of_the_whole_edit(tmp_path, streams, name):
    src = _source(tmp_path)
    e1, e2, r1, r2 = _both(src, tmp_path / "o", CHAINS[name])
    assert streams, "the conversion did not stream"
    assert (tmp_path / "o/s.json").read_bytes() == (tmp_path / "o/w.json").read_bytes()
    _same_reports(e1, e2, r1, r2)
    assert e1.report.edits, "the chain changed nothing: the test would not see a difference"


def test_a_streamed_edit_with_rle_output_writes_the_same_bytes(tmp_path, streams):
    src = _source(tmp_path, seed=9)
    e1, e2, r1, r2 = _both(src, tmp_path / "o", [MinArea(20), DropCrowd()], segmentation="rle")
    assert streams and r1.summary() == r2.summary() and r1.summary()
    assert (tmp_path / "o/s.json").read_bytes() == (tmp_path / "o/w.json").read_bytes()
    _same_reports(e1, e2, r1, r2)


@pytest.mark.parametrize("name", ["split", "stratified", "everything"])
def test_a_split_pattern_is_written_a_pass_per_split_with_the_bytes_of_the_whole_write(tmp_path, streams, name):
    src = _source(tmp_path, n_images=50, seed=11)
    chain = CHAINS[name] if name != "everything" else CHAINS[name][:-1]  # a sample after the split: see below
    e1, e2, r1, r2 = _both(src, tmp_path / "o", chain, dst="{}_{{split}}.json")
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    splits = sorted({n.split("_", 1)[1] for n in names})
    assert len(streams) == len(splits) >= 2
    for s in splits:
        assert (tmp_path / f"o/s_{s}").read_bytes() == (tmp_path / f"o/w_{s}").read_bytes()
    _same_reports(e1, e2, r1, r2)
    assert [n.replace("/s_", "/w_") for n in r1.notes] == r2.notes


def test_a_sample_after_the_split_reads_whole_for_a_split_pattern(tmp_path, streams):
    """Which splits have images is known only after the sample: the conversion reads whole, same output."""
    src = _source(tmp_path, n_images=50, seed=11)
    e1, e2, r1, r2 = _both(src, tmp_path / "o", CHAINS["everything"], dst="{}_{{split}}.json")
    assert not streams
    for s in ("a", "b", "c"):
        assert (tmp_path / f"o/s_{s}.json").read_bytes() == (tmp_path / f"o/w_{s}.json").read_bytes()
    _same_reports(e1, e2, r1, r2)


def test_strict_refuses_a_streamed_drop_and_writes_nothing(tmp_path, streams):
    src = _source(tmp_path)
    for dst, chain in (("s.json", [DropCrowd()]), ("s_{split}.json", [Split(TRAIN_VAL), MinArea(30)])):
        with pytest.raises(LossError, match="E00[45]"):
            segmill.convert(src, tmp_path / dst, options=ConvertOptions(edit=Editor(chain, strict=True)))
    assert streams and [p.name for p in tmp_path.iterdir()] == ["src.json"]  # no output, no spill


def test_a_class_the_stream_does_not_have_is_a_usage_error_before_anything_is_written(tmp_path):
    src = _source(tmp_path)
    with pytest.raises(UsageError, match="no class named 'truck'"):
        segmill.convert(src, tmp_path / "s.json", options=ConvertOptions(edit=Editor([MapClasses({"truck": "x"})])))
    assert [p.name for p in tmp_path.iterdir()] == ["src.json"]


def test_an_edit_keeps_the_file_order_of_the_annotations_it_keeps(tmp_path):
    """In memory too (the oracle above): the file's annotation order, less the dropped ones."""
    src = _source(tmp_path)
    segmill.write(Editor([DropCrowd(), MapClasses({"car": "vehicle"})])(segmill.read(src)), tmp_path / "w.json",
                  "coco")
    doc = json.loads(src.read_text())
    kept = [a["id"] for a in doc["annotations"] if not a["iscrowd"]]
    assert [a["id"] for a in json.loads((tmp_path / "w.json").read_text())["annotations"]] == kept
    assert kept != sorted(kept)  # shuffled: item order would differ


def test_an_edit_that_is_a_plain_function_reads_whole(tmp_path, streams):
    src = _source(tmp_path)
    seen = []
    segmill.convert(src, tmp_path / "s.json", options=ConvertOptions(edit=lambda ds: seen.append(ds) or ds))
    assert not streams and len(seen) == 1 and len(seen[0].items) == 40


_STEPS = st.sampled_from([
    DropCrowd(), MapClasses({"car": "vehicle"}), MapClasses({"person": "dog"}, missing="ignore"),
    KeepClasses(("car", "vehicle")), DropClasses(("dog",)), MinArea(9), MinArea(40), Sample(25, seed=1),
    Sample(60, seed=2), Split(TRAIN_VAL, seed=3), Split(TRAIN_VAL, seed=4, stratify=True),
])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chain=st.lists(_STEPS, min_size=1, max_size=4), seed=st.integers(0, 50))
def test_any_chain_streams_to_the_bytes_of_the_whole_edit(tmp_path_factory, chain, seed):
    folder = tmp_path_factory.mktemp("chain")
    src = _source(folder, n_images=30, seed=seed)
    try:
        e1, e2, r1, r2 = _both(src, folder / "o", chain)
    except UsageError as exc:  # a chain that names a class an earlier step removed: both refuse it
        with pytest.raises(UsageError, match=str(exc)[:20]):
            Editor(chain)(segmill.read(src))
        return
    assert (folder / "o/s.json").read_bytes() == (folder / "o/w.json").read_bytes()
    _same_reports(e1, e2, r1, r2)


def test_the_cli_streams_an_edit_and_prints_the_summary_of_the_whole_edit(tmp_path, streams, monkeypatch):
    from segmill.cli import main

    src = _source(tmp_path)
    args = ["--drop-crowd", "--map", "car=vehicle", "--min-area", "10", "--json", "-q"]
    got = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "s.json"), *args])
    assert got.exit_code == 0, got.output
    assert streams
    monkeypatch.setattr(coco, "STREAM_BYTES", 1 << 40)  # read whole
    want = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "w.json"), *args])
    assert want.exit_code == 0 and len(streams) == 1
    a, b = json.loads(got.output), json.loads(want.output)
    assert a["edits"] == b["edits"] and a["edits"]["summary"]
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "w.json").read_bytes()


def test_a_report_past_its_memory_run_spills_and_reads_back_the_same(tmp_path, monkeypatch):
    """The streamed edit of a big dataset keeps a run of edits in memory: the same report, in order."""
    from segmill import _entries

    src = _source(tmp_path, n_images=60, seed=13)
    chain = [DropCrowd(), MinArea(40), DropClasses(("dog",))]
    whole = Editor(chain)
    whole(segmill.read(src))
    monkeypatch.setattr(_entries, "SPILL_ENTRIES", 3)
    spilled = Editor(chain)
    segmill.convert(src, tmp_path / "s.json", options=ConvertOptions(edit=spilled))
    assert spilled.report._edits._spill is not None and len(spilled.report._edits._tail) < 3
    assert spilled.report.to_dict() == whole.report.to_dict() and len(whole.report.edits) > 20
    assert spilled.report.lines() == whole.report.lines() and spilled.report == whole.report
    assert spilled.report.drop_message() == whole.report.drop_message()


def test_an_edited_stream_holds_a_few_batches_of_images_never_all(tmp_path, monkeypatch):
    """Bounded memory, counted: the items alive while the edited stream is consumed (weak references)."""
    import gc
    import weakref

    from segmill.formats import _coco_stream
    from segmill.streaming import Stream

    monkeypatch.setattr(_coco_stream, "BATCH", 5)  # the reader's own batch of images
    src = _source(tmp_path, n_images=150, seed=17)
    refs: list = []  # items are unhashable (compared by value): weak references in a list
    real = Stream.batches

    def batches(self, size=1000):
        for batch in real(self, size):
            refs.extend(weakref.ref(it) for it in batch)
            yield batch

    monkeypatch.setattr(Stream, "batches", batches)
    make = Editor([DropCrowd(), MinArea(10), Split(TRAIN_VAL, seed=3, stratify=True)]).edit_stream(
        lambda: segmill.stream(src, "coco"))
    most = n = 0
    for _ in make():
        n += 1
        if n % 10 == 0:
            gc.collect()  # items are freed by reference counting; a collection now and then for any cycle
        most = max(most, sum(r() is not None for r in refs))
    assert n == 150 and len(refs) == 150 and 7 <= most <= 3 * 7 + 5
