"""Agreement in memory that does not grow with the images: the compared images kept as arrays
(:class:`segmill.agree.pairing.Groups`), the per-image records and the lists of missing, skipped and
unusable spilled (``Entries``), the lowest-scored images kept as a bounded heap, the JSON report written a
record at a time. Every report is the one the whole lists give."""

from __future__ import annotations

import json

import pytest

from segmill import _entries
from segmill.agree import compare, report_html, report_json, report_text
from segmill.agree.metrics import image_scores
from segmill.agree.pairing import Groups, pair_datasets
from segmill.geometry import Box
from segmill.model import Annotation, Category, Dataset, Item

N = 40


def _annotator(shift: int, drop: int, odd_size: int) -> Dataset:
    """``N`` images; box ``k`` moved by ``shift * (k % 5)`` px; image ``drop`` missing; ``odd_size`` 1 px
    wider (skipped: sizes disagree); an undeclared category on every 7th image (unusable)."""
    items = []
    for k in range(N):
        if k == drop:
            continue
        anns = [Annotation(1, 1, Box(2 + shift * (k % 5), 2, 10, 8)), Annotation(2, 2, Box(20, 10, 6 + k % 4, 6))]
        if k % 7 == 0:
            anns.append(Annotation(3, 99, Box(1, 1, 3, 3)))
        items.append(Item(k + 1, f"img é{k:03d}.png", 40 + (k == odd_size), 30, anns))
    return Dataset([Category(1, "cat"), Category(2, "dog")], items)


ANNOTATORS = [_annotator(0, 3, 5), _annotator(1, 11, 5), _annotator(2, 17, 9)]


@pytest.fixture(scope="module")
def whole():
    return compare(ANNOTATORS, names=["a", "b", "c"])


def test_groups_are_arrays_that_give_the_image_groups(whole):
    pairing = whole.pairing
    assert isinstance(pairing.groups, Groups) and len(pairing.groups) == N - 2  # two sizes disagree
    keys = [g.key for g in pairing.groups]
    assert keys[:3] == ["img é000.png", "img é001.png", "img é002.png"]
    assert [g.key for g in pairing.groups[-2:]] == keys[-2:] and pairing.groups[-1].key == keys[-1]
    complete = pairing.groups.complete()
    assert [g.key for g in complete] == [g.key for g in pairing.groups if g.complete]
    assert len(complete) == N - 2 - 3 and all(len([i for i in g.items if i]) == 3 for g in complete)
    with pytest.raises(IndexError):
        pairing.groups[N]
    again = pair_datasets(ANNOTATORS, ["a", "b", "c"])
    assert [(g.key, g.height, g.width) for g in again.groups] == [(g.key, g.height, g.width)
                                                                  for g in pairing.groups]


@pytest.mark.parametrize("run", [1, 3])
def test_spilled_lists_give_the_same_reports(monkeypatch, whole, run):
    monkeypatch.setattr(_entries, "SPILL_ENTRIES", run)
    spilled = compare(ANNOTATORS, names=["a", "b", "c"])
    assert spilled.per_image._spill is not None and spilled.pairing.missing._spill is not None
    assert spilled.unusable._spill is not None
    want = json.dumps(whole.to_dict(), indent=2, allow_nan=False) + "\n"
    assert report_json.render(spilled) == report_json.render(whole) == want
    assert report_text.render(spilled) == report_text.render(whole)
    assert report_html.render(spilled, 4, None) == report_html.render(whole, 4, None)
    assert spilled.to_dict() == whole.to_dict()


def test_the_lowest_images_come_from_a_bounded_heap(whole, monkeypatch):
    by_sort = sorted((r for r in whole.per_image if r["score"] is not None), key=lambda r: (r["score"], r["image"]))
    assert whole.lowest(5) == by_sort[:5]
    assert whole.to_dict()["lowest_images"] == [r["image"] for r in by_sort[:image_scores.LOWEST_LISTED]]
    sizes = []
    real = image_scores.ImageScoreMetric.add_image

    def spy(self, state, image):
        real(self, state, image)
        sizes.append(len(state))

    monkeypatch.setattr(image_scores.ImageScoreMetric, "add_image", spy)
    monkeypatch.setattr(image_scores, "LOWEST_LISTED", 2)
    again = compare(ANNOTATORS, names=["a", "b", "c"])
    assert max(sizes) < 4 * 2 and len(sizes) == N - 2
    assert again.to_dict()["lowest_images"] == [r["image"] for r in by_sort[:2]]


def test_the_json_chunks_write_a_record_at_a_time(whole):
    chunks = list(report_json.render_chunks(whole))
    assert len(chunks) >= len(whole.per_image) and "".join(chunks) == report_json.render(whole)
    assert "\\u00e9" in chunks[-2] or any("\\u00e9" in c for c in chunks)  # ASCII, as json.dumps writes it
