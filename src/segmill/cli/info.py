"""``segmill info PATH``: what a dataset holds and how its format was told."""

from __future__ import annotations

import json

import click

from . import main
from ._common import memory_budget_option, run_guarded
from ._format_options import FormatOptionsCommand, route_or_explain
from ._workers import sharding, workers_options


@main.command(cls=FormatOptionsCommand, side="reader")
@click.argument("path", type=click.Path(exists=False, dir_okay=True))
@click.option("--format", "-f", "fmt", metavar="F", help="Format name (see `segmill formats`); detected when omitted.")
@click.option("--skip-invalid", is_flag=True, help="Skip bad records (counted) instead of failing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@workers_options
@memory_budget_option
@run_guarded
def info(path, fmt, skip_invalid, as_json, **reader_options):
    """Summarize PATH: format (and why), images, annotations per category,
    geometry kinds, crowd count, image size range.

    Formats that stream (sa1b) are counted one image at a time, in the
    memory of one image's annotations.

    Example: segmill info fixtures/coco/annotations.json
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from .. import io
    from .._info import format_summary, summarize_stream
    from ..formats import get_format

    if fmt:
        spec = get_format(fmt)
        reason = "given with --format"
    else:
        name, det = io.detect_format(path)
        spec, reason = get_format(name), det.reason
    options, _ = route_or_explain(spec, None, {k: v for k, v in reader_options.items() if v is not None})
    if skip_invalid:
        if spec.option("errors", "reader") is None:
            raise click.UsageError(f"the {spec.name} reader has no lenient mode for --skip-invalid")
        options["errors"] = "skip"
    if (sharded := sharding()) is not None:
        s, ds = sharded.info(path, spec.name, options)
    else:
        st = io.stream(path, spec.name, **options)  # one item at a time where the format streams
        s = summarize_stream(st)
        ds = st.header
    if as_json:
        out = {"path": str(path), "format": spec.name, "reason": reason, **s}
        out["skipped_records"] = ds.meta.get("skipped", [])
        out["read_notes"] = ds.meta.get("read_notes", [])
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(format_summary(s, [f"path: {path}", f"format: {spec.name} ({reason})"]))
        for rec in ds.meta.get("skipped", []):
            click.echo(f"skipped: {rec['path']}: {rec['record']}: {rec['reason']}", err=True)
        for note in ds.meta.get("read_notes", []):
            click.echo(f"note: {note}", err=True)
