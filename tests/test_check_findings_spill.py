"""A check's findings spilled past the memory budget, and reports written a chunk at a time.

The streamed check keeps its findings in :class:`segmill._entries.Entries`
(per rule while the batches come, then the assembled result), and every
report is made as chunks from the result's tally and one reading of the
findings. The oracle is the whole, in-memory check (findings in a list, no
spill) rendered the same way: the reports must be byte-identical, in every
format, however small the spill; and what ``segmill check -o FILE`` writes
is what it prints.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dataclasses
import json
import random

import pytest
from click.testing import CliRunner

from segmill import _entries, synth
from segmill.check import check_path, render
from segmill.check._tally import Tally, findings_entries
from segmill.check.config import Config
from segmill.check.report import FORMATS, render_chunks
from segmill.check.report.sarif import to_sarif
from segmill.check.streamed import check_streamed
from segmill.cli import main
from segmill.formats import coco
from segmill.transforms import streamed

_spec = importlib.util.spec_from_file_location("_defects", Path(__file__).with_name("_defects.py"))
_defects = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_defects)
spoil_geometry = _defects.spoil_geometry

#: Each format with the options it takes (the text report's variants too).
_RENDERINGS = [("text", {}), ("text", {"statistics": True}), ("text", {"max_locations": 0}),
               ("text", {"max_locations": 3}), ("json", {}), ("junit", {}), ("sarif", {}), ("github", {})]


def _many_findings(path, n_images: int = 120, seed: int = 5):
    """A COCO file with findings of several rules and severities (geometry, overlaps, names, files)."""
    doc = synth.coco_dict(n_images, seed=seed)
    doc["categories"].append({"id": 900, "name": "Class01 ", "supercategory": "x"})  # similar name, unused
    spoil_geometry(doc["annotations"][::3])
    doc["images"][1]["file_name"] = doc["images"][0]["file_name"]  # the same file twice
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return _many_findings(tmp_path_factory.mktemp("spill") / "instances.json")


@pytest.fixture(scope="module")
def whole(dataset):
    """The in-memory check: findings in a list."""
    res = check_path(dataset, select=["ALL"])
    assert len({f.code for f in res.findings}) >= 6 and len(res.findings) > 300
    assert len({f.severity for f in res.findings}) == 3 and res.tally().fixable
    return res


@pytest.fixture
def tiny_spill(monkeypatch):
    monkeypatch.setattr(_entries, "SPILL_ENTRIES", 3)  # a run of 3 findings at most in memory
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)  # every COCO file streams
    monkeypatch.setattr(streamed, "BATCH", 7)  # many batches
    return monkeypatch


def _streamed(dataset):
    res = check_streamed(dataset, config=Config().override(select=["ALL"]))
    assert isinstance(res.findings, _entries.Entries)
    return res


@pytest.mark.parametrize("fmt, options", _RENDERINGS)
def test_a_spilled_streamed_check_reports_byte_for_byte_what_the_whole_check_does(dataset, whole, tiny_spill,
                                                                                  fmt, options):
    res = _streamed(dataset)
    assert res.findings._spill is not None and len(res.findings._tail) < 3
    assert render(res, fmt, **options) == render(whole, fmt, **options)


@pytest.mark.parametrize("fmt, options", _RENDERINGS)
def test_the_budget_sized_spill_gives_the_same_reports(dataset, whole, monkeypatch, fmt, options):
    monkeypatch.setenv("SEGMILL_MEMORY_BUDGET", "16M")  # the smallest budget: 781 findings a run
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    res = _streamed(dataset)
    assert res.findings._limit == _entries.SPILL_ENTRIES * 16 // 1024
    assert render(res, fmt, **options) == render(whole, fmt, **options)


def test_the_reports_are_what_the_result_dict_and_sarif_log_say(dataset, tiny_spill, whole):
    res = _streamed(dataset)
    assert render(res, "json") == json.dumps(whole.to_dict(), indent=2, ensure_ascii=False) + "\n"
    assert render(res, "sarif") == json.dumps(to_sarif(whole), indent=2, ensure_ascii=False) + "\n"
    assert res.head_dict() == whole.head_dict() and res.statistics() == whole.statistics()
    assert res.counts() == whole.counts() and res.failed() == whole.failed() and res.failed("info")


@pytest.mark.parametrize("fmt, options", _RENDERINGS)
def test_findings_out_of_rule_order_report_the_same_spilled_or_not(whole, tiny_spill, fmt, options):
    """A hand-made result need not hold each rule's findings together: the reports read them once per rule."""
    shuffled = list(whole.findings)
    random.Random(3).shuffle(shuffled)
    in_list = dataclasses.replace(whole, findings=shuffled)
    spilled = dataclasses.replace(whole, findings=findings_entries(shuffled))
    assert not spilled.tally().grouped and spilled.findings._spill is not None
    assert render(spilled, fmt, **options) == render(in_list, fmt, **options)
    text = render(in_list, "text")
    for fs in in_list.by_rule().values():  # the first locations of each rule, in order of appearance
        assert f"  {fs[0].location()}: {fs[0].message}\n" in text


def test_the_tally_kept_as_findings_come_is_the_one_counted(whole, tiny_spill):
    kept = findings_entries(whole.findings).tallies()
    assert Tally(kept, 1).keys == Tally.of(list(whole.findings)).keys
    t = dataclasses.replace(whole, findings=findings_entries(whole.findings)).tally()
    assert t.grouped and t.total == len(whole.findings)
    assert {c: r.count for c, r in t.rules.items()} == {c: len(fs) for c, fs in whole.by_rule().items()}


def test_an_empty_result_reports_the_same_in_every_format(whole, tiny_spill):
    for fmt, options in _RENDERINGS:
        empty = dataclasses.replace(whole, findings=findings_entries())
        assert render(empty, fmt, **options) == render(dataclasses.replace(whole, findings=[]), fmt, **options)


def test_chunks_are_made_as_findings_are_read(whole):
    """A report of n findings comes in about n chunks (one per finding), not one string."""
    n = len(whole.findings)
    assert sum(1 for _ in render_chunks(whole, "json")) >= n
    assert sum(1 for _ in render_chunks(whole, "sarif")) >= n
    assert sum(1 for _ in render_chunks(whole, "github")) == n
    assert sum(1 for _ in render_chunks(whole, "junit")) >= n
    assert set(FORMATS) == {"text", "json", "junit", "sarif", "github"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_cli_output_file_equals_stdout(dataset, tiny_spill, tmp_path, fmt):
    runner = CliRunner()
    args = ["check", str(dataset), "-q", "--select", "ALL", "--output-format", fmt]
    printed = runner.invoke(main, args)
    assert printed.exit_code == 1, printed.output  # errors among the findings
    out = tmp_path / f"report.{fmt}"
    written = runner.invoke(main, args + ["-o", str(out)])
    assert written.exit_code == 1 and written.output == ""
    assert out.read_bytes() == printed.stdout_bytes
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left
    whole = check_path(dataset, select=["ALL"])
    assert out.read_text(encoding="utf-8") == render(whole, fmt)


def test_cli_writes_into_a_device_instead_of_replacing_it(dataset, tiny_spill, tmp_path):
    import os
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    res = CliRunner().invoke(main, ["check", str(dataset), "-q", "--select", "G", "--output-format", "github",
                                    "-o", str(fifo)])
    reader.join(30)
    assert res.exit_code == 1 and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got and got[0].decode() == render(check_path(dataset, select=["G"]), "github")


def _parity(entry) -> tuple:
    return entry.code, entry.n % 2


@dataclasses.dataclass(frozen=True)
class _Coded:
    code: str
    n: int


def test_entries_tally_and_runs_follow_every_change_spilled_or_not(monkeypatch):
    """``tally`` counts in order of first appearance and ``runs`` counts runs of a code, through
    appends, spills, prepends and a pickle (the existing behaviour is kept: tests/test_entries.py)."""
    import pickle
    from collections import Counter

    for run in (2, 1000):
        monkeypatch.setattr(_entries, "SPILL_ENTRIES", run)
        rng = random.Random(run)
        got, want = _entries.Entries(tally=_parity), []
        for step in range(30):
            more = [_Coded(rng.choice("ABC"), rng.randrange(9)) for _ in range(rng.randrange(4))]
            if step % 4 == 3:
                got.prepend(more)
                want[:0] = more
            else:
                got.extend(more)
                want += more
            assert got.tallies() == dict(Counter(map(_parity, want)))
            assert list(got.tallies()) == list(dict.fromkeys(map(_parity, want)))
            assert got.runs() == sum(1 for k, e in enumerate(want) if k == 0 or e.code != want[k - 1].code)
        back = pickle.loads(pickle.dumps(got))
        assert back == want and back.tallies() == got.tallies() and back.tally is _parity
    assert _entries.Entries([_Coded("A", 1)]).tallies() is None
