"""The docs tables generated from the registries (tools/gen_docs.py) are current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_docs_are_current(gen_docs):
    assert gen_docs.stale() == [], "run: python tools/gen_docs.py"


def test_every_block_is_present(gen_docs):
    text = "".join((ROOT / f).read_text(encoding="utf-8") for f in gen_docs.FILES)
    for name in gen_docs.GENERATORS:
        assert f"<!-- generated: {name}" in text, name


def test_a_stale_table_is_detected(gen_docs, tmp_path):
    for rel in gen_docs.FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text(encoding="utf-8"), encoding="utf-8")
    check = tmp_path / "docs" / "check.md"
    check.write_text(check.read_text(encoding="utf-8").replace("| S001 |", "| S999 |"), encoding="utf-8")
    assert gen_docs.stale(tmp_path) == ["docs/check.md"]


def test_tables_list_every_registered_code(gen_docs):
    from segmill.check.registry import all_rules
    from segmill.losses import all_codes

    check = gen_docs.check_rules()
    gate = gen_docs.gate_rules()
    losses = gen_docs.loss_codes()
    assert all(f"| {r.code} | {r.name} |" in check for r in all_rules("check"))
    assert all(f"### {r.code} {r.name}" in gate for r in all_rules("gate"))
    assert all(f"| {c} |" in losses for c in all_codes())


def test_every_format_owns_its_codes(gen_docs):
    from segmill.formats import formats

    codes = gen_docs._format_codes(list(formats()))
    assert codes["coco"] and all(c.startswith("L10") for c in codes["coco"])
    assert codes["coco_results"] and all(c.startswith("L11") for c in codes["coco_results"])
    assert all(c.startswith("L3") for c in codes["yolo"])
    owned = [c for cs in codes.values() for c in cs]
    assert len(owned) == len(set(owned)), "a code listed under two formats"
