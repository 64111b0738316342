"""Exit codes: 2 for segmill errors (one line), 3 for anything else (a bug), tracebacks only on request."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from segmill.cli import main
from segmill.losses import all_codes, describe


def _boom(*args, **kwargs):
    raise RuntimeError("kaboom\nsecond line")


def test_an_unexpected_exception_is_exit_3_with_one_line(monkeypatch, fixtures_dir):
    monkeypatch.setattr("segmill.io._reader", _boom)  # what read and stream both call first
    r = CliRunner().invoke(main, ["info", str(fixtures_dir / "coco" / "annotations.json")])
    assert r.exit_code == 3
    assert r.stderr == ("segmill: internal error: RuntimeError: kaboom\\nsecond line "
                        "(a bug; SEGMILL_DEBUG=1 shows the traceback)\n")


def test_segmill_debug_shows_the_traceback(monkeypatch, fixtures_dir):
    monkeypatch.setattr("segmill.io._reader", _boom)
    monkeypatch.setenv("SEGMILL_DEBUG", "1")
    r = CliRunner().invoke(main, ["info", str(fixtures_dir / "coco" / "annotations.json")])
    assert r.exit_code == 1 and isinstance(r.exception, RuntimeError)


def test_an_input_error_is_exit_2_with_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "we\nird.json"
    bad.write_text('{"images": [{"id": [42]}], "annotations": [], "categories": []}')
    r = subprocess.run([sys.executable, "-m", "segmill", "info", str(bad), "--format", "coco"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "we\\nird.json" in r.stderr


@pytest.mark.parametrize("fmt, src", [("coco", "coco/annotations.json"), ("voc", "voc"), ("yolo", "yolo/seg"),
                                      ("labelme", "labelme/basic"), ("masks", "masks/semantic"),
                                      ("coco_panoptic", "panoptic/annotations")])
def test_an_unknown_errors_mode_is_a_usage_error(fixtures_dir, fmt, src):
    import segmill
    from segmill.errors import UsageError

    with pytest.raises(UsageError, match="errors must be one of raise, skip, keep"):
        segmill.read(fixtures_dir / src, fmt, errors="bogus")


def test_describe_knows_every_code_before_any_format_module_is_imported():
    code = r"from segmill.losses import describe; print(describe('L301')); print(describe('L999'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = r.stdout.splitlines()
    assert first == all_codes()["L301"] == describe("L301")
    assert second == "(undocumented loss code)"
