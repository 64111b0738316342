"""``segmill convert SRC DST``: read one format, write another, report every loss."""

from __future__ import annotations

import json

import click

from ..errors import UsageError
from . import main
from ._common import memory_budget_option, quiet_option, run_guarded, setup_progress
from ._edits import EDIT_PARAMS, EditingCommand, edit_options, is_split_spec, transforms_from
from ._format_options import route_or_explain
from ._workers import sharding, workers_options


@main.command(cls=EditingCommand, side="both")
@click.argument("src", type=click.Path(exists=False))
@click.argument("dst", type=click.Path(exists=False))
@click.option("--from", "from_fmt", metavar="F", help="Source format; detected when omitted.")
@click.option("--to", "to_fmt", metavar="F", help="Target format; the source format when omitted.")
@click.option("--strict", is_flag=True, help="Exit 1 and write nothing if anything would be lost, or dropped by an edit.")
@click.option("--force", is_flag=True,
              help="Replace DST if it is empty or a previous output of the target format (never the source).")
@click.option("--skip-invalid", is_flag=True, help="Skip bad records (each one reported) instead of failing.")
@click.option("--json", "as_json", is_flag=True, help="Print the write report as JSON on stdout.")
@edit_options
@quiet_option
@memory_budget_option
@workers_options
@run_guarded
def convert(src, dst, from_fmt, to_fmt, strict, force, skip_invalid, as_json, quiet, **options):
    """Convert SRC to DST, printing a loss summary (code, count, meaning) on stderr.

    Exit 0 on success (losses listed), 1 under --strict when anything would be
    lost or dropped (nothing written), 2 on bad input or usage. DST is never
    overwritten without --force, and never inside SRC. The format flags below
    are the options the formats declare (`segmill formats`); each is passed to
    the reader, the writer, or both, wherever it is declared.

    The edit flags (--map, --map-file, --keep-class, --drop-class, --min-area,
    --drop-crowd, --split, --sample) change the dataset between reading and
    writing, in the order given; every change is reported with an E code
    (docs/editing.md). A DST holding {split} is written one output per split.

    Example: segmill convert fixtures/coco/annotations.json out.json --segmentation rle
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from .. import io
    from ..formats import get_format
    from ..transforms import Editor

    setup_progress(quiet)
    edits = {k: options.pop(k) for k in EDIT_PARAMS}
    if edits["split"] is not None and not is_split_spec(edits["split"]):
        options["split"] = edits["split"]  # a plain name: the yolo / cityscapes writers' option
    src_spec = get_format(from_fmt) if from_fmt else get_format(io.detect_format(src)[0])
    dst_spec = get_format(to_fmt) if to_fmt else src_spec
    editor = Editor(transforms_from(click.get_current_context(), edits), strict=strict)
    _check_split_destination(dst, dst_spec, edits["split"])
    io.check_destination(dst, dst_spec.name, force=force, sources=[src])
    given = {k: v for k, v in options.items() if v is not None}
    try:
        read_opts, write_opts = route_or_explain(src_spec, dst_spec, given)
    except UsageError as exc:
        if "split" not in given:
            raise
        raise UsageError(f"{exc}; to assign splits, give --split NAME=FRACTION,... (e.g. train=0.8,val=0.2)") from None
    if skip_invalid:
        if src_spec.option("errors", "reader") is None:
            raise click.UsageError(f"the {src_spec.name} reader has no lenient mode for --skip-invalid")
        read_opts["errors"] = "skip"
    skipped: list = []
    read_notes: list = []

    def edit(ds):
        skipped.extend(ds.meta.get("skipped", []))
        read_notes.extend(ds.meta.get("read_notes", []))
        return editor(ds)

    headers: list = []

    def edit_stream(open_stream, by_split=False):  # a source that streams is edited as a stream (io.convert)
        def opened():
            st = open_stream()
            headers.append(st.header)  # where a streaming reader leaves its notes and skipped records
            return st
        return editor.edit_stream(opened, by_split)

    edit.edit_stream = edit_stream
    run = sharded.convert if (sharded := sharding()) is not None else io.convert
    report = run(src, dst, src_spec.name, dst_spec.name, strict=strict, force=force,
                 options=io.ConvertOptions(read=read_opts, write=write_opts, edit=edit))
    if headers:
        skipped.extend(headers[-1].meta.get("skipped", []))
        read_notes.extend(headers[-1].meta.get("read_notes", []))
    report.notes[:0] = read_notes
    if as_json:
        out = report.to_dict()
        out["source"] = {"path": str(src), "format": src_spec.name}
        out["skipped"] = skipped
        out["edits"] = editor.report.to_dict()
        click.echo(json.dumps(out, indent=2, default=str))
    if not quiet:
        click.echo(summary_text(report, skipped, editor.report), err=True)


def _check_split_destination(dst, dst_spec, split) -> None:
    """Refuse --split NAME=FRACTION,... into one file: DST must say where each split goes."""
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..io import SPLIT_FIELD

    if is_split_spec(split) and dst_spec.output == "file" and SPLIT_FIELD not in str(dst):
        raise UsageError(f"--split: the {dst_spec.name} format writes one file, which cannot hold splits; "
                         f"put {SPLIT_FIELD} in DST for one file per split (e.g. out/instances_{SPLIT_FIELD}.json)")


def summary_text(report, skipped, edits=None) -> str:
    """The stderr summary: what was written, edits by code, losses by code, skipped records, notes."""
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..losses import describe

    lines = [f"segmill: wrote {report.format} to {report.path}: {report.items} images, "
             f"{report.annotations} annotations"]
    if edits is not None:
        lines.extend(edits.lines())
    summary = report.summary()
    if summary:
        lines.append(f"losses ({len(report.losses)}):")
        for code, n in summary.items():
            lines.append(f"  {code} x{n}  {describe(code)}")
        for loss in report.losses[:5]:
            lines.append(f"    e.g. {loss}")
    else:
        edited = edits is not None and len(edits) > 0
        lines.append(f"no loss: the output holds everything the {'edited dataset' if edited else 'input'} did")
    if skipped:
        lines.append(f"skipped {len(skipped)} invalid record(s):")
        for s in skipped[:20]:
            lines.append(f"  {s['path']}: {s['record']}: {s['reason']}")
        if len(skipped) > 20:
            lines.append(f"  ... and {len(skipped) - 20} more (--json lists all)")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
