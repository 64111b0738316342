"""Issue 13, smaller items: messages name the flag (or keyword) the caller can actually use,
and tracing options that would change nothing are refused instead of ignored."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import FormatDetectionError, InputError, UsageError


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture()
def unknown_json(tmp_path):
    p = tmp_path / "u.json"
    p.write_text('{"x": 1}')
    return p


@pytest.mark.parametrize("command,extra,flag", [
    ("convert", ["{tmp}/o.json", "--to", "coco"], "--from NAME"),
    ("split-instances", ["{tmp}/o.json", "--to", "coco"], "--from NAME"),
    ("info", [], "--format NAME"),
    ("check", [], "--format NAME"),
    ("diff", ["{src}"], "--format NAME"),
    ("agree", ["{src}"], "--format NAME"),
])
def test_detection_error_names_the_flag_of_the_command(command, extra, flag, unknown_json, tmp_path):
    args = [a.format(tmp=tmp_path, src=unknown_json) for a in extra]
    r = _run(command, unknown_json, *args)
    assert r.exit_code == 2, r.output
    assert "cannot tell the format" in r.output and f"name it with {flag}" in r.output
    assert "format=NAME" not in r.output


def test_detection_error_in_python_names_the_keyword(unknown_json):
    with pytest.raises(FormatDetectionError, match=r"name it with format=NAME$"):
        segmill.read(unknown_json)


def test_write_over_existing_output_tells_python_callers_force_true(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    out = tmp_path / "o.json"
    out.write_text("{}")
    with pytest.raises(InputError, match=r"use force=True to replace it") as exc:
        segmill.write(ds, out, "coco")
    assert "--force" not in str(exc.value)
    out.write_text('{"x": 1}')
    with pytest.raises(InputError, match=r"force=True replaces only an empty file") as exc:
        segmill.write(ds, out, "coco", force=True)
    assert "--force" not in str(exc.value)


def test_write_over_existing_output_tells_cli_users_force_flag(fixtures_dir, tmp_path):
    out = tmp_path / "o.json"
    out.write_text('{"x": 1}')
    r = _run("convert", fixtures_dir / "coco" / "annotations.json", out)
    assert r.exit_code == 2 and "use --force to replace it" in r.output and "force=True" not in r.output
    r = _run("convert", fixtures_dir / "coco" / "annotations.json", out, "--force")
    assert r.exit_code == 2 and "--force replaces only an empty file" in r.output
    assert json.loads(out.read_text()) == {"x": 1}


@pytest.mark.parametrize("flags,needs", [
    (["--polygon-mode", "simplified"], "--polygon-mode needs --segmentation polygon"),
    (["--polygon-mode", "exact", "--segmentation", "rle"], "--polygon-mode needs --segmentation polygon"),
    (["--tolerance", "2"], "--tolerance needs --segmentation polygon --polygon-mode simplified"),
    (["--segmentation", "polygon", "--tolerance", "2"],
     "--tolerance needs --segmentation polygon --polygon-mode simplified"),
])
def test_coco_tracing_options_without_tracing_are_a_usage_error(flags, needs, fixtures_dir, tmp_path):
    r = _run("convert", fixtures_dir / "voc", tmp_path / "o.json", "--to", "coco", *flags)
    assert r.exit_code == 2 and needs in r.output, r.output
    assert not (tmp_path / "o.json").exists()


def test_coco_tracing_options_with_tracing_work(fixtures_dir, tmp_path):
    r = _run("convert", fixtures_dir / "voc", tmp_path / "o.json", "--to", "coco", "--segmentation", "polygon",
             "--polygon-mode", "simplified", "--tolerance", "2")
    assert r.exit_code == 0, r.output
    assert "L103" in r.output  # simplification is reported


def test_tracing_options_for_a_writer_without_them_name_the_writer_that_has_them(fixtures_dir, tmp_path):
    for to in ("voc", "yolo", "labelme"):
        r = _run("convert", fixtures_dir / "coco" / "annotations.json", tmp_path / to, "--to", to,
                 "--polygon-mode", "simplified")
        assert r.exit_code == 2, r.output
        assert f"nor the {to} writer" in r.output and "it is taken by the coco writer" in r.output


def test_python_coco_writer_refuses_ignored_tracing_options(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    with pytest.raises(UsageError, match=r"polygon_mode='simplified' needs segmentation='polygon'"):
        segmill.write(ds, tmp_path / "a.json", "coco", polygon_mode="simplified")
    with pytest.raises(UsageError, match=r"tolerance needs polygon_mode='simplified'"):
        segmill.write(ds, tmp_path / "b.json", "coco", segmentation="polygon", tolerance=0.5)
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()
    segmill.write(ds, tmp_path / "c.json", "coco", segmentation="polygon", polygon_mode="exact")
    assert (tmp_path / "c.json").exists()
