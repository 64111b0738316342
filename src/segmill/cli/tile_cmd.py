"""``segmill tile SRC DST`` and ``segmill untile CHIPS DST``: chips of large images and back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import main
from ._common import force_option, quiet_option, run_guarded, setup_progress
from .convert import summary_text

#: What ``segmill tile`` writes inside DST besides the chips folder ``images/``.
ANNOTATIONS = "annotations"


def _read(src, from_fmt, images):
    from .. import io
    from ..formats import get_format

    spec = get_format(from_fmt) if from_fmt else get_format(io.detect_format(src)[0])
    opts = {"images": images} if images is not None and spec.name == "geojson" else {}  # its scenes' folder
    return spec, io.read(src, spec.name, **opts)


def _roots(ds, src, images) -> tuple:
    roots = [Path(images)] if images is not None else []
    root = ds.meta.get("image_root")
    if isinstance(root, str) and root:
        roots.append(Path(root))
    p = Path(src)
    folder = p if p.is_dir() else p.parent
    roots += [folder, folder / "images"]
    return tuple(r for r in roots if r.is_dir())


def _echo_report(report, write_report, as_json, quiet, skipped=()):
    if as_json:
        doc = report.to_dict()
        if write_report is not None:
            doc["write"] = write_report.to_dict()
        click.echo(json.dumps(doc, indent=2, default=str))
    if not quiet:
        click.echo(report.text(), err=True)
        if write_report is not None:
            click.echo(summary_text(write_report, skipped), err=True)


def _is_tile_output(p: Path) -> bool:
    return (p / "images").is_dir() and any((p / n).exists() for n in (ANNOTATIONS, ANNOTATIONS + ".json"))


@main.command("tile")
@click.argument("src", type=click.Path(exists=False))
@click.argument("dst", type=click.Path(exists=False))
@click.option("--size", type=click.IntRange(min=1), required=True, metavar="PX", help="Chip side in pixels.")
@click.option("--overlap", type=click.IntRange(min=0), default=0, show_default=True, metavar="PX",
              help="Pixels shared by neighbouring chips (less than --size).")
@click.option("--min-visible", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True, metavar="FRACTION",
              help="Drop (and report) a part whose area is under this fraction of its object's.")
@click.option("--from", "from_fmt", metavar="F", help="Source format; detected when omitted.")
@click.option("--to", "to_fmt", metavar="F", help="Format of the chips' annotations; the source format when omitted.")
@click.option("--images", type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help="Folder of the source images (default: where the source says, its folder, its images/).")
@force_option()
@click.option("--json", "as_json", is_flag=True, help="Print the report (every clip and drop) as JSON on stdout.")
@quiet_option
@run_guarded
def tile_cmd(src, dst, size, overlap, min_visible, from_fmt, to_fmt, images, force, as_json, quiet):
    """Cut the images of SRC into SIZE-pixel chips and clip every annotation to each chip.

    DST is a folder: the chips in DST/images/ (GeoTIFF windows, georeferenced, for
    GeoTIFF scenes, which are never read whole; PNG for other images) and their
    annotations in DST/annotations.json or DST/annotations/ (folder formats).
    Exit 0 ok, 2 bad input.

    Example: segmill tile fixtures/geojson/basic chips --size 32 --overlap 8
    """
    from .. import _atomic, io
    from ..formats import get_format
    from ..tiling import TileSettings, tile_dataset

    setup_progress(quiet)
    settings_check = TileSettings(size=size, overlap=overlap, min_visible=min_visible)  # usage errors first
    src_spec, ds = _read(src, from_fmt, images)
    dst_spec = get_format(to_fmt) if to_fmt else src_spec
    if dst_spec.write is None:
        raise click.UsageError(f"segmill cannot write the {dst_spec.name} format")
    settings = TileSettings(settings_check.size, settings_check.overlap, settings_check.min_visible,
                            _roots(ds, src, images))
    rules = {"sources": [src], "kind": "dir", "recognizes": _is_tile_output, "format_name": "segmill tile"}
    with _atomic.staged(dst, force=force, **rules) as tmp:
        tmp.mkdir()
        chips, report = tile_dataset(ds, tmp / "images", settings)
        chips.meta["source_path"] = str(tmp / "images")
        name = ANNOTATIONS + (".json" if dst_spec.output == "file" else "")
        opts = {"link_images": True} if dst_spec.option("link_images", "writer") else {}
        write_report = io.write(chips, tmp / name, dst_spec.name, **opts)
        write_report.path = str(Path(dst) / name)
    _echo_report(report, write_report, as_json, quiet, ds.meta.get("skipped", []))


@main.command("untile")
@click.argument("chips", type=click.Path(exists=False))
@click.argument("dst", type=click.Path(exists=False))
@click.option("--from", "from_fmt", metavar="F", help="Format of the chips' annotations; detected when omitted.")
@click.option("--to", "to_fmt", metavar="F", help="Target format; the chips' format when omitted.")
@click.option("--images", type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help="Folder of the original images, for target formats that carry images.")
@click.option("--chips-index", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="For a COCO results file of predictions on the chips: the chips' COCO file `segmill tile "
                   "--to coco` wrote (names, sizes, where each chip lies).")
@click.option("--no-join", is_flag=True, help="Keep the parts of an object cut by chip borders apart.")
@force_option()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@quiet_option
@run_guarded
def untile_cmd(chips, dst, from_fmt, to_fmt, images, chips_index, no_join, force, as_json, quiet):
    """Put chip annotations (written by `segmill tile`, or predictions on its chips) back into the images.

    CHIPS is the folder `segmill tile` wrote (its annotations are found inside),
    the annotations themselves, or a COCO results file of predictions on the
    chips with --chips-index naming the chips' COCO file. Each chip's annotations are moved to image
    coordinates and cut to the chip's core (overlaps counted once); parts of one
    class from different chips that touch are joined into one object.
    Exit 0 ok, 2 bad input.

    Example: segmill untile chips restored --to coco
    """
    from .. import io
    from ..formats import get_format
    from ..tiling import UntileSettings, untile_dataset

    setup_progress(quiet)
    p = Path(chips)
    if p.is_dir() and _is_tile_output(p):
        p = p / ANNOTATIONS if (p / ANNOTATIONS).exists() else p / (ANNOTATIONS + ".json")
    if chips_index is not None:
        from_fmt = from_fmt or "coco_results"
        if from_fmt != "coco_results":
            raise click.UsageError("--chips-index goes with a COCO results file (--from coco_results)")
        src_spec, ds = get_format(from_fmt), io.read(p, from_fmt, images=chips_index)
    else:
        src_spec, ds = _read(p, from_fmt, None)
    dst_spec = get_format(to_fmt) if to_fmt else (get_format("coco") if src_spec.name == "coco_results"
                                                  else src_spec)
    out, report = untile_dataset(ds, UntileSettings(join=not no_join))
    out.meta["source_path"] = str(p)
    if images is not None:
        out.meta["image_root"] = str(images)
    write_report = io.write(out, dst, dst_spec.name, force=force, sources=[chips])
    _echo_report(report, write_report, as_json, quiet)
