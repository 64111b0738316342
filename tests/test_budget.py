"""The memory budget (``segmill.budget``, ``--memory-budget``): parsed, in force, and what it sizes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from segmill import budget, synth
from segmill._entries import Entries
from segmill.cli import main
from segmill.errors import UsageError
from segmill.formats import get_format
from segmill.losses import Loss


@given(st.integers(min_value=16, max_value=1 << 20), st.sampled_from(["M", "m", "MiB", "MB", " M "]))
def test_sizes_in_mebibytes_parse(n, unit):
    assert budget.parse_size(f"{n}{unit}") == n << 20


@pytest.mark.parametrize("text, value", [("2G", 2 << 30), ("1.5GiB", 3 << 29), ("16777216", 16 << 20),
                                         ("20000K", 20000 << 10), ("1T", 1 << 40)])
def test_units_are_powers_of_1024(text, value):
    assert budget.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "1Q", "15M", "1e9", "G"])
def test_a_bad_or_too_small_size_is_a_usage_error(text):
    with pytest.raises(UsageError, match="--memory-budget"):
        budget.parse_size(text)


def test_precedence_set_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("SEGMILL_MEMORY_BUDGET", raising=False)
    assert budget.memory_budget() <= budget.DEFAULT
    monkeypatch.setenv("SEGMILL_MEMORY_BUDGET", "256M")
    assert budget.memory_budget() == 256 << 20
    with budget.using(64 << 20):
        assert budget.memory_budget() == 64 << 20
    assert budget.memory_budget() == 256 << 20
    monkeypatch.setenv("SEGMILL_MEMORY_BUDGET", "a lot")
    with pytest.raises(UsageError, match="SEGMILL_MEMORY_BUDGET"):
        budget.memory_budget()


def test_scaled_keeps_the_constants_at_the_default_and_scales_them_otherwise(monkeypatch):
    monkeypatch.delenv("SEGMILL_MEMORY_BUDGET", raising=False)
    with budget.using(budget.DEFAULT):
        assert budget.scaled(32 << 20) == 32 << 20 and budget.scaled(50_000) == 50_000
    with budget.using(256 << 20):
        assert budget.scaled(32 << 20) == 8 << 20
        assert budget.scaled(1000, 16) == 250
        assert budget.scaled(0, 16) == 0  # a threshold set to 0 or 3 (tests forcing a path) stays that
        assert budget.scaled(3, 64) == 3
    with budget.using(16 << 20):
        assert budget.scaled(40, 16) == 16


def test_a_small_budget_makes_a_smaller_coco_file_stream(tmp_path):
    src = tmp_path / "a.json"
    synth.write_coco(src, 120, seed=3)
    size = src.stat().st_size
    assert size < 32 << 20
    spec = get_format("coco")
    assert spec.stream(src) is None  # read whole at the default budget
    with budget.using(max(budget.MINIMUM, size * 32)):  # the threshold is 1/32 of the budget
        assert budget.scaled(32 << 20) <= size
        header, items = spec.stream(src)
        assert sum(1 for _ in items) == 120


def test_report_entries_spill_at_the_scaled_count():
    loss = Loss("L705", "a polygon was rasterized", 1)
    with budget.using(16 << 20):  # 50,000 entries at 1 GiB -> 781
        e = Entries(loss for _ in range(800))
        assert e._spilled > 0 and len(e) == 800 and list(e)[799] == loss
    e = Entries(loss for _ in range(800))
    assert e._spilled == 0 and len(e) == 800


def test_the_cli_option_holds_for_the_command_only_and_gives_the_same_output(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMILL_MEMORY_BUDGET", raising=False)
    src = tmp_path / "a.json"
    synth.write_coco(src, 40, seed=5)
    runner = CliRunner()
    plain = runner.invoke(main, ["convert", str(src), str(tmp_path / "plain.json"), "--to", "coco", "-q"])
    small = runner.invoke(main, ["convert", str(src), str(tmp_path / "small.json"), "--to", "coco", "-q",
                                 "--memory-budget", "16M"])
    assert plain.exit_code == 0 and small.exit_code == 0, small.output
    assert (tmp_path / "small.json").read_bytes() == (tmp_path / "plain.json").read_bytes()
    assert budget.memory_budget() <= budget.DEFAULT  # released when the command ended
    bad = runner.invoke(main, ["info", str(src), "--memory-budget", "1k"])
    assert bad.exit_code == 2 and "at least 16M" in bad.output
