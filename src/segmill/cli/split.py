"""``segmill split-instances SRC DST``: semantic regions -> connected-component instances."""

from __future__ import annotations

import json

import click

from ..errors import InputError
from . import main
from ._common import force_option, memory_budget_option, quiet_option, run_guarded, setup_progress
from .convert import summary_text


@main.command("split-instances")
@click.argument("src", type=click.Path(exists=False))
@click.argument("dst", type=click.Path(exists=False))
@click.option("--from", "from_fmt", metavar="F", help="Source format; detected when omitted.")
@click.option("--to", "to_fmt", metavar="F", help="Target format; the source format when omitted.")
@click.option("--connectivity", type=click.Choice(["4", "8"]), default="8", show_default=True,
              help="Pixel connectivity of one instance.")
@click.option("--stuff", multiple=True, metavar="NAME", help="Category kept as one region per image (repeatable).")
@click.option("--min-area", type=click.IntRange(min=0), default=0, show_default=True,
              help="Drop (and count) components with fewer pixels.")
@click.option("--ignore-value", type=int, metavar="V",
              help="Void value of the source label maps (readers that take one, e.g. masks).")
@click.option("--raster", type=click.Choice(["coco", "pil"]), default="coco", show_default=True,
              help="Rasterization rule for polygon sources.")
@force_option()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@quiet_option
@memory_budget_option
@run_guarded
def split_instances_cmd(src, dst, from_fmt, to_fmt, connectivity, stuff, min_area, ignore_value, raster, force,
                        as_json, quiet):
    """Split the semantic regions of SRC into per-class connected components, write DST.

    Each image's regions are painted into a class map, split per class
    (8-connectivity by default; --stuff classes stay whole), and written in
    column-major first-pixel order. Dropped small components and overwritten
    overlap pixels are reported as losses. Exit 0 ok, 2 bad input.

    Example: segmill split-instances fixtures/masks out_voc --to voc --stuff road --stuff tree
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from .. import io
    from ..bridges.split import split_dataset
    from ..formats import get_format

    setup_progress(quiet)
    src_spec = get_format(from_fmt) if from_fmt else get_format(io.detect_format(src)[0])
    dst_spec = get_format(to_fmt) if to_fmt else src_spec
    io.check_destination(dst, dst_spec.name, force=force, sources=[src])
    read_opts = {}
    if ignore_value is not None:
        if src_spec.option("ignore_value", "reader") is None:
            raise click.UsageError(f"the {src_spec.name} reader has no --ignore-value (its void is fixed)")
        read_opts["ignore_value"] = ignore_value
    ds = io.read(src, src_spec.name, **read_opts)
    if not ds.items:
        raise InputError(f"no image found as {src_spec.name}: nothing to split (`segmill info` shows what the "
                         "reader sees; check the folder layout or --from)", src)
    try:
        out, split_report = split_dataset(ds, connectivity=int(connectivity), stuff=stuff, min_area=min_area,
                                          raster=raster)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    write_opts = {"raster": raster} if dst_spec.option("raster", "writer") else {}
    report = io.write(out, dst, dst_spec.name, force=force, sources=[src], **write_opts)
    report.losses.prepend(split_report.losses)
    report.notes[:0] = split_report.notes
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    if not quiet:
        click.echo(summary_text(report, ds.meta.get("skipped", [])), err=True)
