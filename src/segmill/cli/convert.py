"""``segmill convert SRC DST``: read one format, write another, report every loss."""

from __future__ import annotations

import json

import click

from . import main
from ._common import quiet_option, run_guarded, setup_progress

# CLI option -> reader/writer keyword. Every FormatSpec.options doc starts with
# "reader:", "writer:" or "reader/writer:" (checked here: a doc without one of
# these is a bug in the format module); an option is passed only to the side
# its doc names, and an option neither side declares is a usage error.
_ROUTED = ("segmentation", "raster", "labels", "polygon_mode", "tolerance", "images", "multipart", "source")
_SIDES = {"reader:": {"reader"}, "writer:": {"writer"}, "reader/writer:": {"reader", "writer"}}


def option_sides(spec, name: str) -> set[str]:
    """The sides (``"reader"``, ``"writer"``) of ``spec`` that take option ``name``; empty when none does.

    Raises
    ------
    ValueError
        The option's doc does not start with ``reader:``, ``writer:`` or ``reader/writer:``.
    """
    doc = spec.options.get(name)
    if doc is None:
        return set()
    prefix = doc.split(None, 1)[0] if doc.strip() else ""
    if prefix not in _SIDES:
        raise ValueError(f"option {name!r} of format {spec.name!r} has doc {doc!r}: it must start with "
                         "'reader:', 'writer:' or 'reader/writer:'")
    return _SIDES[prefix]


def _accepts(spec, name: str, side: str) -> bool:
    return side in option_sides(spec, name)


def route_options(src_spec, dst_spec, given: dict) -> tuple[dict, dict]:
    """Split CLI options into reader and writer options; UsageError for an option nobody takes."""
    read_opts: dict = {}
    write_opts: dict = {}
    for name, value in given.items():
        r = _accepts(src_spec, name, "reader")
        w = _accepts(dst_spec, name, "writer")
        if r:
            read_opts[name] = value
        if w:
            write_opts[name] = value
        if not (r or w):
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(
                f"{flag} is an option of neither the {src_spec.name} reader nor the {dst_spec.name} writer "
                "(see `segmill formats`)"
            )
    return read_opts, write_opts


@main.command()
@click.argument("src", type=click.Path(exists=False))
@click.argument("dst", type=click.Path(exists=False))
@click.option("--from", "from_fmt", metavar="F", help="Source format; detected when omitted.")
@click.option("--to", "to_fmt", metavar="F", help="Target format; the source format when omitted.")
@click.option("--segmentation", type=click.Choice(["keep", "polygon", "rle"]),
              help="COCO writers: keep as read (default), or write every mask as polygon / RLE.")
@click.option("--strict", is_flag=True, help="Exit 1 and write nothing if anything would be lost.")
@click.option("--force", is_flag=True,
              help="Replace DST if it is empty or a previous output of the target format (never the source).")
@click.option("--skip-invalid", is_flag=True, help="Skip bad records (each one reported) instead of failing.")
@click.option("--raster", type=click.Choice(["coco", "pil"]), help="Rasterization rule where pixels are drawn.")
@click.option("--labels", type=click.Path(dir_okay=False), help="Class list file (formats that take one).")
@click.option("--polygon-mode", type=click.Choice(["exact", "simplified"]), help="How masks become polygons.")
@click.option("--tolerance", type=float, metavar="PX", help="Simplification tolerance (--polygon-mode simplified).")
@click.option("--images", type=click.Path(dir_okay=False), help="coco_results: instances file with image sizes.")
@click.option("--multipart", type=click.Choice(["largest", "lines"]),
              help="YOLO writer: keep the largest part of a multi-part polygon, or write one line per part.")
@click.option("--source", type=click.Choice(["auto", "instanceIds", "labelIds", "polygons"]),
              help="Cityscapes reader: which files to read (auto prefers instanceIds).")
@click.option("--json", "as_json", is_flag=True, help="Print the write report as JSON on stdout.")
@quiet_option
@run_guarded
def convert(src, dst, from_fmt, to_fmt, segmentation, strict, force, skip_invalid, raster, labels,
            polygon_mode, tolerance, images, multipart, source, as_json, quiet):
    """Convert SRC to DST, printing a loss summary (code, count, meaning) on stderr.

    Exit 0 on success (losses listed), 1 under --strict when anything would be
    lost (nothing written), 2 on bad input or usage. DST is never overwritten
    without --force, and never inside SRC.

    Example: segmill convert fixtures/coco/annotations.json out.json --segmentation rle
    """
    from .. import io
    from ..formats import get_format

    setup_progress(quiet)
    src_spec = get_format(from_fmt) if from_fmt else get_format(io.detect_format(src)[0])
    dst_spec = get_format(to_fmt) if to_fmt else src_spec
    io.check_destination(dst, dst_spec.name, force=force, sources=[src])
    given = {k: v for k, v in (("segmentation", segmentation), ("raster", raster), ("labels", labels),
                               ("polygon_mode", polygon_mode), ("tolerance", tolerance),
                               ("images", images), ("multipart", multipart), ("source", source))
             if v is not None}
    read_opts, write_opts = route_options(src_spec, dst_spec, given)
    if skip_invalid:
        if "reader" not in option_sides(src_spec, "errors"):
            raise click.UsageError(f"the {src_spec.name} reader has no lenient mode for --skip-invalid")
        read_opts["errors"] = "skip"
    skipped: list = []
    report = io.convert(src, dst, src_spec.name, dst_spec.name, strict=strict, force=force,
                        read_options=read_opts, write_options=write_opts,
                        on_read=lambda ds: skipped.extend(ds.meta.get("skipped", [])))
    if as_json:
        out = report.to_dict()
        out["source"] = {"path": str(src), "format": src_spec.name}
        out["skipped"] = skipped
        click.echo(json.dumps(out, indent=2, default=str))
    if not quiet:
        click.echo(summary_text(report, skipped), err=True)


def summary_text(report, skipped) -> str:
    """The stderr summary: what was written, losses by code, skipped records, notes."""
    from ..losses import describe

    lines = [f"segmill: wrote {report.format} to {report.path}: {report.items} images, "
             f"{report.annotations} annotations"]
    summary = report.summary()
    if summary:
        lines.append(f"losses ({len(report.losses)}):")
        for code, n in summary.items():
            lines.append(f"  {code} x{n}  {describe(code)}")
        for loss in report.losses[:5]:
            lines.append(f"    e.g. {loss}")
    else:
        lines.append("no loss: the output holds everything the input did")
    if skipped:
        lines.append(f"skipped {len(skipped)} invalid record(s):")
        for s in skipped[:20]:
            lines.append(f"  {s['path']}: {s['record']}: {s['reason']}")
        if len(skipped) > 20:
            lines.append(f"  ... and {len(skipped) - 20} more (--json lists all)")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
