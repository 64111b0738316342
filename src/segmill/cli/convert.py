"""``segmill convert SRC DST``: read one format, write another, report every loss."""

from __future__ import annotations

import json

import click

from . import main
from ._common import quiet_option, run_guarded, setup_progress
from ._format_options import FormatOptionsCommand, route_or_explain


@main.command(cls=FormatOptionsCommand, side="both")
@click.argument("src", type=click.Path(exists=False))
@click.argument("dst", type=click.Path(exists=False))
@click.option("--from", "from_fmt", metavar="F", help="Source format; detected when omitted.")
@click.option("--to", "to_fmt", metavar="F", help="Target format; the source format when omitted.")
@click.option("--strict", is_flag=True, help="Exit 1 and write nothing if anything would be lost.")
@click.option("--force", is_flag=True,
              help="Replace DST if it is empty or a previous output of the target format (never the source).")
@click.option("--skip-invalid", is_flag=True, help="Skip bad records (each one reported) instead of failing.")
@click.option("--json", "as_json", is_flag=True, help="Print the write report as JSON on stdout.")
@quiet_option
@run_guarded
def convert(src, dst, from_fmt, to_fmt, strict, force, skip_invalid, as_json, quiet, **format_options):
    """Convert SRC to DST, printing a loss summary (code, count, meaning) on stderr.

    Exit 0 on success (losses listed), 1 under --strict when anything would be
    lost (nothing written), 2 on bad input or usage. DST is never overwritten
    without --force, and never inside SRC. The format flags below are the
    options the formats declare (`segmill formats`); each is passed to the
    reader, the writer, or both, wherever it is declared.

    Example: segmill convert fixtures/coco/annotations.json out.json --segmentation rle
    """
    from .. import io
    from ..formats import get_format

    setup_progress(quiet)
    src_spec = get_format(from_fmt) if from_fmt else get_format(io.detect_format(src)[0])
    dst_spec = get_format(to_fmt) if to_fmt else src_spec
    io.check_destination(dst, dst_spec.name, force=force, sources=[src])
    given = {k: v for k, v in format_options.items() if v is not None}
    read_opts, write_opts = route_or_explain(src_spec, dst_spec, given)
    if skip_invalid:
        if src_spec.option("errors", "reader") is None:
            raise click.UsageError(f"the {src_spec.name} reader has no lenient mode for --skip-invalid")
        read_opts["errors"] = "skip"
    skipped: list = []
    read_notes: list = []

    def on_read(ds):
        skipped.extend(ds.meta.get("skipped", []))
        read_notes.extend(ds.meta.get("read_notes", []))

    report = io.convert(src, dst, src_spec.name, dst_spec.name, strict=strict, force=force,
                        read_options=read_opts, write_options=write_opts, on_read=on_read)
    report.notes[:0] = read_notes
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
