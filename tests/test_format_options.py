"""Format options declared as data: declarations match the functions, the CLI routes by them."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import UsageError
from segmill.formats import NO, FormatSpec, register_format
from segmill.formats.options import ERRORS, Option, merged, raster, route

FORMATS = sorted(segmill.formats.formats())


def _declared(spec, side):
    return {o.name for o in spec.options if o.on(side)}


def _params(fn):
    return set(list(inspect.signature(fn).parameters)[2 if fn.__name__ in ("write", "write_instances") else 1:])


@pytest.mark.parametrize("name", FORMATS)
def test_declared_reader_options_are_exactly_the_reader_keywords(name):
    spec = segmill.formats.get_format(name)
    if spec.read is not None:
        assert _declared(spec, "reader") == _params(spec.read)


@pytest.mark.parametrize("name", FORMATS)
def test_declared_writer_options_are_exactly_the_writer_keywords(name):
    spec = segmill.formats.get_format(name)
    if spec.write is not None:
        assert _declared(spec, "writer") == _params(spec.write)


@pytest.mark.parametrize("name", FORMATS)
def test_declared_defaults_are_the_functions_defaults(name):
    spec = segmill.formats.get_format(name)
    for side, fn in (("reader", spec.read), ("writer", spec.write)):
        if fn is None:
            continue
        params = inspect.signature(fn).parameters
        for o in spec.options:
            if o.on(side) and o.default is not None:
                assert params[o.name].default == o.default, (name, side, o.name)


def test_every_generated_flag_of_convert_is_a_declared_option():
    cmd = main.get_command(None, "convert")
    with click.Context(cmd) as ctx:
        flags = {p.name for p in cmd.get_params(ctx)}
    declared = set(merged(segmill.formats.formats().values()))
    assert declared <= flags
    assert {"segmentation", "raster", "labels", "polygon_mode", "tolerance", "images", "multipart", "source",
            "recompute", "copy_images", "split", "indent", "overlap", "png_dir", "mask_mode", "mode",
            "instances", "ignore_value", "background"} <= declared


def test_a_flag_means_one_kind_across_formats():
    a = FormatSpec("a1", "", lambda p: NO, read=lambda p, x=1: None, options=(Option("x", "reader", "", kind="int"),))
    b = FormatSpec("b1", "", lambda p: NO, read=lambda p, x="": None, options=(Option("x", "reader", ""),))
    with pytest.raises(ValueError, match="one flag cannot be both"):
        merged([a, b])


def test_registering_a_doubly_declared_option_fails_loudly():
    spec = FormatSpec("twice", "", lambda p: NO, options=(raster("reader"), raster("both")))
    with pytest.raises(ValueError, match="declared twice for the reader"):
        register_format(spec)


def test_router_passes_a_reader_writer_option_to_both_sides():
    voc = segmill.formats.get_format("voc")
    assert route(voc, voc, {"labels": "l.txt"}) == ({"labels": "l.txt"}, {"labels": "l.txt"})


def test_router_passes_a_reader_only_option_to_the_reader_only():
    cvat, coco = segmill.formats.get_format("cvat"), segmill.formats.get_format("coco")
    assert route(cvat, coco, {"raster": "pil"}) == ({"raster": "pil"}, {"raster": "pil"})
    assert route(cvat, cvat, {"raster": "pil"}) == ({"raster": "pil"}, {})


def test_router_checks_a_value_against_the_formats_own_choices():
    cityscapes = segmill.formats.get_format("cityscapes")
    with pytest.raises(UsageError, match="--source of the cityscapes format must be one of"):
        route(cityscapes, cityscapes, {"source": "labelTrainIds"})


def test_the_errors_option_is_spelled_skip_invalid():
    assert ERRORS.cli is False
    assert all(s.option("errors", "reader") is ERRORS for s in segmill.formats.formats().values())


def test_writer_options_are_reachable_from_the_cli(fixtures_dir, tmp_path):
    out = tmp_path / "lm"
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "coco" / "annotations.json"), str(out),
                                    "--to", "labelme", "--indent", "0", "-q"])
    assert res.exit_code == 0, res.output
    first = next(out.rglob("*.json")).read_text()
    assert '\n"shapes"' in first and "\n " not in first  # indent 0, where labelme's default is 2


def test_convert_multipart_lines_reaches_the_yolo_writer(fixtures_dir, tmp_path):
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "coco" / "annotations.json"),
                                    str(tmp_path / "y"), "--to", "yolo", "--multipart", "lines", "--json", "-q"])
    assert res.exit_code == 0, res.output
    codes = {loss["code"] for loss in json.loads(res.output)["losses"]}
    assert "L304" in codes and "L303" not in codes


def test_convert_source_polygons_reaches_the_cityscapes_reader(fixtures_dir, tmp_path):
    out = tmp_path / "c.json"
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "cityscapes" / "basic"), str(out),
                                    "--to", "coco", "--source", "polygons", "-q"])
    assert res.exit_code == 0, res.output
    segs = [a["segmentation"] for a in json.loads(out.read_text())["annotations"]]
    assert segs and all(isinstance(s, list) for s in segs)


def test_convert_multipart_for_a_writer_without_it_is_a_usage_error(fixtures_dir, tmp_path):
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "coco" / "annotations.json"),
                                    str(tmp_path / "o.json"), "--multipart", "lines"])
    assert res.exit_code == 2
    assert "--multipart is an option of neither" in res.output


def test_split_instances_to_cvat_does_not_pass_raster_to_its_writer(fixtures_dir, tmp_path):
    res = CliRunner().invoke(main, ["split-instances", str(fixtures_dir / "masks"), str(tmp_path / "c"),
                                    "--to", "cvat", "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "annotations.xml").is_file()




# ------------------------------------------------------------ the raster rule: one option, one name
def _writers(raster: bool) -> tuple[str, ...]:
    from segmill.formats import formats

    return tuple(n for n, s in formats().items() if s.write and bool(s.option("raster", "writer")) == raster)


PAINTING_WRITERS = _writers(True)
#: Writers without a raster option whose output still follows the rule the dataset was read with: why.
FOLLOWS_THE_DATASET = {
    "labelme": "picks shape kinds that re-read as the same pixels under the dataset's rule (a rectangle stays "
               "a rectangle under Pillow's rule, becomes a mask under pycocotools')",
}


@pytest.mark.parametrize("fmt", PAINTING_WRITERS)
def test_every_writer_that_draws_pixels_takes_raster(fmt):
    from segmill.formats import get_format

    opt = get_format(fmt).option("raster", "writer")
    assert opt is not None and opt.choices == ("coco", "pil")


def test_raster_rule_follows_the_reader_unless_the_writer_is_told():
    from segmill.errors import UsageError
    from segmill.formats.options import raster_rule
    from segmill.model import Dataset

    assert raster_rule(Dataset()) == "coco"
    assert raster_rule(Dataset(meta={"raster_rule": "pil"})) == "pil"
    assert raster_rule(Dataset(meta={"raster_rule": "pil"}), "coco") == "coco"
    assert raster_rule(Dataset(meta={"raster_rule": object()})) == "coco"  # hand-built meta: ignored
    with pytest.raises(UsageError, match="raster must be one of coco, pil"):
        raster_rule(Dataset(), "fill")


def test_coco_to_cityscapes_takes_raster_pil(fixtures_dir, tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    runs = {}
    for rule in ("coco", "pil"):
        out = tmp_path / rule
        res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "coco" / "annotations.json"), str(out),
                                        "--to", "cityscapes", "--raster", rule, "-q"])
        assert res.exit_code == 0, res.output
        runs[rule] = sorted(p.read_bytes() for p in out.rglob("*_labelIds.png"))
    assert runs["coco"] != runs["pil"]  # the flag reached the writer: Pillow's rule paints boundary pixels


def _written(ds, path: Path, fmt: str, **options) -> list[bytes]:
    """Every file ``fmt``'s writer makes of ``ds`` at ``path``, as bytes, in path order."""
    import segmill

    segmill.write(ds, path, fmt, **options)
    return [path.read_bytes()] if path.is_file() else [f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()]


@pytest.mark.parametrize("fmt", [f for f in PAINTING_WRITERS if f != "coco"])  # COCO keeps polygons as polygons
def test_a_painting_writer_draws_with_the_rule_the_dataset_was_read_with(fixtures_dir, tmp_path, fmt):
    import segmill

    ds = segmill.read(fixtures_dir / "labelme" / "basic", "labelme", raster="pil")
    default = _written(ds, tmp_path / "default", fmt)
    assert default == _written(ds, tmp_path / "pil", fmt, raster="pil") != _written(ds, tmp_path / "coco", fmt,
                                                                                        raster="coco")


@pytest.mark.parametrize("fmt", _writers(False))
def test_a_writer_without_a_raster_option_does_not_paint(fixtures_dir, tmp_path, fmt):
    """A writer whose output depends on the raster rule must take ``raster``: else the rule is not the user's."""
    import copy

    import segmill

    pil = segmill.read(fixtures_dir / "labelme" / "basic", "labelme", raster="pil")
    coco = copy.deepcopy(pil)
    coco.meta["raster_rule"] = "coco"
    differs = _written(pil, tmp_path / "pil", fmt) != _written(coco, tmp_path / "coco", fmt)
    assert differs == (fmt in FOLLOWS_THE_DATASET), FOLLOWS_THE_DATASET.get(fmt, f"{fmt} paints: declare raster")
