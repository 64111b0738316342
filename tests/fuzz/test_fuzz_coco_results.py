"""Structured fuzzing of the COCO results (detections) reader and writer.

Seeds: ``fixtures/coco/results.json`` (read alone, or with its instances file
as ``images=``), and results made from the annotations of the shared
corpus's COCO files (``../shared/corpus/datumaro/coco_dataset``, each record
given a score). Each example mutates a seed: a value anywhere swapped for a
hostile one (wrong types, NaN, infinity, huge and negative numbers, deep
nesting, ``1e999``, a 400-digit integer, a lone surrogate), sizes made huge,
keys deleted, records duplicated, bytes flipped, the text truncated. The
property (``tests/fuzz/conftest.py``): the reader returns a dataset or
refuses with a one-line SegmillError in every ``errors`` mode, and what it
returns is written back as a results file or refused just as cleanly; the
stream gives what the read gives, or refuses where it refuses.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segmill
from segmill.errors import InputError, LimitError, UsageError
from segmill.formats import _coco_results_stream, _coco_stream
from segmill.geometry import InvalidGeometry

_spec = importlib.util.spec_from_file_location("_json_mutations", Path(__file__).with_name("_json_mutations.py"))
jm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jm)

pytestmark = pytest.mark.usefixtures("small_pixel_limit")  # what a writer may rasterize: over 2 Mpx is refused

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "coco" / "results.json"
IMAGES = ROOT / "fixtures" / "coco" / "annotations.json"
CORPUS = ROOT.parent / "shared" / "corpus" / "datumaro" / "coco_dataset"
CASES = Path(__file__).resolve().parent / "corpus" / "coco_results"
MODES = ["raise", "skip", "keep"]

HOSTILE = jm.BASE_HOSTILE + [
    {"size": [2, 2], "counts": [4]}, "a\x00b", [[0, 0, 4, 0, 4, 4]], [[0, 0, 4]], {"size": [4, 5], "counts": "~~~"},
    {"counts": "0"},
]
SIZES = [0, -1, 1, 10**5, 2**31, 2**32, 10**12, 2**64, 9_000, 89_478_486]
LITERALS = jm.BASE_LITERALS + [
    '{"size": [Infinity, 8], "counts": "0"}', '{"size": [80000, 75000], "counts": [6000000000]}',
]


def _corpus_seeds() -> list[list]:
    """The annotations of each corpus COCO file as detections (a score added)."""
    if not CORPUS.is_dir():
        return []
    seeds = []
    for p in sorted(CORPUS.glob("*/**/*.json")):
        doc = json.loads(p.read_text(encoding="utf-8"))
        anns = doc.get("annotations") if isinstance(doc, dict) else None
        if anns and "panoptic" not in p.name and all("segmentation" in a for a in anns):
            seeds.append([dict(a, score=0.5) for a in anns])
    return seeds


SEEDS = [json.loads(FIXTURE.read_text(encoding="utf-8"))] + _corpus_seeds()
#: The fixture's records over six images, interleaved (each image's records of one RLE size): for the stream.
MANY = [dict(r, image_id=r["image_id"] * 100 + k % 3) for k in range(6) for r in SEEDS[0]]


def mutate(doc, ops, edit) -> bytes:
    """``doc`` with ``ops`` applied, as JSON bytes, then one byte edit."""
    return jm.mutate(doc, ops, edit, hostile=HOSTILE, sizes=SIZES, literals=LITERALS)


mutation = jm.mutation
byte_edit = jm.byte_edits(3)


def round_trip(data: bytes, mode: str, reads_or_refuses, writes_or_refuses, streams_or_refuses=None, **read_opts):
    """Read ``data`` as coco_results in a fresh folder (and stream it: the same dataset or refusal); write what
    is read back. Returns the dataset."""
    def read(path, fmt, **options):
        ds = reads_or_refuses(path, fmt, **options)
        if streams_or_refuses is not None:
            streams_or_refuses(path, fmt, ds, **options)
        return ds

    return jm.file_round_trip(data, "results.json", "coco_results", mode, read, writes_or_refuses, **read_opts)


# ------------------------------------------------------------------ properties
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(mutation, min_size=1, max_size=3), edit=byte_edit, mode=st.sampled_from(MODES),
       with_images=st.booleans())
def test_mutated_fixture_is_read_or_refused_and_written_back_or_refused(reads_or_refuses, writes_or_refuses,
                                                                          streams_or_refuses, ops, edit, mode,
                                                                          with_images):
    opts = {"images": IMAGES} if with_images else {}
    round_trip(mutate(SEEDS[0], ops, edit), mode, reads_or_refuses, writes_or_refuses, streams_or_refuses, **opts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(mutation, min_size=1, max_size=1), edit=jm.byte_edits(30))
def test_mutated_interleaved_detections_stream_as_they_read(reads_or_refuses, writes_or_refuses, streams_or_refuses,
                                                            ops, edit):
    """One value changed (the stream's mode, raise): many still stream, across runs and batches."""
    with pytest.MonkeyPatch.context() as mp:  # runs of 2 records, batches of 2 images
        mp.setattr(_coco_results_stream, "RUN", 2)
        mp.setattr(_coco_stream, "BATCH", 2)
        round_trip(mutate(MANY, ops, edit), "raise", reads_or_refuses, writes_or_refuses, streams_or_refuses)


@pytest.mark.corpus
@pytest.mark.skipif(len(SEEDS) == 1, reason=f"external corpus not found at {CORPUS}")
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(1, max(len(SEEDS) - 1, 1)), ops=st.lists(mutation, min_size=1, max_size=3),
       edit=byte_edit, mode=st.sampled_from(MODES))
def test_mutated_corpus_detections_are_read_or_refused_and_written_back_or_refused(reads_or_refuses,
                                                                                    writes_or_refuses,
                                                                                    streams_or_refuses, seed, ops,
                                                                                    edit, mode):
    round_trip(mutate(SEEDS[seed], ops, edit), mode, reads_or_refuses, writes_or_refuses, streams_or_refuses)


# ------------------------------------------------------------- known crashers
def test_the_unmutated_fixture_reads_and_writes_back(reads_or_refuses, writes_or_refuses, streams_or_refuses):
    ds = round_trip(FIXTURE.read_bytes(), "raise", reads_or_refuses, writes_or_refuses, streams_or_refuses)
    assert ds is not None and ds.num_annotations == 2


@pytest.mark.parametrize("case", jm.regression_cases(CASES), ids=lambda p: p.name)
@pytest.mark.parametrize("mode", MODES)
def test_regression_cases_in_every_errors_mode(reads_or_refuses, writes_or_refuses, streams_or_refuses, case, mode):
    jm.expect_case_outcome(case, mode, round_trip(case.read_bytes(), mode, reads_or_refuses, writes_or_refuses,
                                                  streams_or_refuses))


def test_an_unknown_errors_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="bogus"):
        segmill.read(FIXTURE, "coco_results", errors="bogus")


def _results(tmp_path, records) -> Path:
    p = tmp_path / "results.json"
    p.write_text(json.dumps(records))
    return p


def test_an_image_is_not_sized_from_an_rle_over_the_pixel_limit(tmp_path):
    rle = {"size": [80_000, 75_000], "counts": [6_000_000_000]}  # 6e9 pixels
    p = _results(tmp_path, [{"image_id": 1, "category_id": 1, "segmentation": rle, "score": 0.5}])
    with pytest.raises(InputError, match="2\\*\\*32"):
        segmill.read(p, "coco_results")
    ds = segmill.read(p, "coco_results", errors="keep")
    (item,) = ds.items
    assert item.size is None and isinstance(item.annotations[0].geometry, InvalidGeometry)
    # Nothing valid to write; and nothing is allocated at the RLE's size.
    for fmt in ("coco_results", "coco"):
        with pytest.raises(InputError):
            segmill.write(ds, tmp_path / f"out_{fmt}", fmt)
        assert not (tmp_path / f"out_{fmt}").exists()
    report = segmill.write(ds, tmp_path / "out_panoptic", "coco_panoptic")
    assert [loss.code for loss in report.losses] == ["L005"]  # no size: no PNG painted


def test_an_rle_within_2_to_the_32_but_over_the_limit_is_refused(tmp_path):
    rle = {"size": [2_000, 2_000], "counts": [4_000_000]}  # 4 Mpx, over the 2 Mpx limit of this module
    p = _results(tmp_path, [{"image_id": 1, "category_id": 1, "segmentation": rle, "score": 0.5}])
    with pytest.raises(InputError, match="pixel limit"):
        segmill.read(p, "coco_results")


def test_the_writer_refuses_to_rasterize_over_the_pixel_limit(tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Dataset, Item

    ds = Dataset([], [Item(1, "", 10_000, 10_000, [Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 4]]), score=1.0)])])
    with pytest.raises(LimitError, match="image id 1"):
        segmill.write(ds, tmp_path / "out.json", "coco_results")
    assert list(tmp_path.iterdir()) == []
