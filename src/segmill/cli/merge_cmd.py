"""``segmill merge SRC... -o DST``: several datasets into one, every remap, duplicate and conflict reported."""

from __future__ import annotations

import json

import click

from ..errors import LossError
from . import main
from ._common import force_option, memory_budget_option, quiet_option, run_guarded, setup_progress
from .convert import summary_text


@main.command("merge")
@click.argument("srcs", nargs=-1, required=True, type=click.Path(exists=False), metavar="SRC...")
@click.option("-o", "--output", "dst", required=True, type=click.Path(exists=False), metavar="DST",
              help="Where to write the merged dataset.")
@click.option("--from", "from_fmts", multiple=True, metavar="F",
              help="Source format: once for every source, or once per source in order (default: detected).")
@click.option("--to", "to_fmt", metavar="F", help="Target format; the format of the first source when omitted.")
@click.option("--on-conflict", type=click.Choice(["error", "first", "last", "union"]), default="error",
              show_default=True, help="What two different values of an image or category field do (sizes must agree).")
@click.option("--dedupe-iou", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True,
              metavar="T", help="Mask IoU at or above which two same-class annotations of one image are duplicates.")
@click.option("--drop-duplicates", is_flag=True, help="Leave out the later source's copy of each duplicate.")
@click.option("--match-by", type=click.Choice(["file_name", "base_name"]), default="file_name", show_default=True,
              help="Match images by their path relative to the dataset root, or by its base name.")
@click.option("--strict", is_flag=True, help="Exit 1 and write nothing on any loss or dropped duplicate.")
@force_option("a source")
@click.option("--json", "as_json", is_flag=True, help="Print the merge and write reports as JSON on stdout.")
@quiet_option
@memory_budget_option
@run_guarded
def merge_cmd(srcs, dst, from_fmts, to_fmt, on_conflict, dedupe_iou, drop_duplicates, match_by, strict, force, as_json,
              quiet):
    """Merge the datasets SRC... (any formats) into DST.

    Categories are matched by name (ids remapped; the first source's ids are
    kept), images by file name (path relative to the dataset root, or base
    name with --match-by base_name), and the annotations of one image are unioned.
    Same-class annotations of one image from different sources whose mask
    IoU is at least --dedupe-iou are reported as duplicates, and left out
    with --drop-duplicates. Every remap, duplicate and conflict is printed
    with its code (M001...), then the write report's losses.

    Exit 0 on success, 1 under --strict when anything would be lost (nothing
    written), 2 on bad input, a conflict under --on-conflict error, or two
    sizes of one image.

    Sources are read in the format each is detected as, or as --from says
    (once for all, or once per source in order). COCO files merged into COCO
    stream when one is big (32 MiB or more): the same output, in about the
    memory of streaming them.

    Example: segmill merge a.json b.json -o merged.json --drop-duplicates
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from .. import io
    from ..formats import get_format
    from ..merging import merge
    from ..merging.streamed import merge_files, streams

    if len(srcs) < 2:
        raise click.UsageError("merge needs at least two sources")
    setup_progress(quiet)
    if len(from_fmts) not in (0, 1, len(srcs)):
        raise click.UsageError(f"--from is given {len(from_fmts)} times: give it once for every source, or once "
                               f"per source ({len(srcs)})")
    given = list(from_fmts) if len(from_fmts) > 1 else [from_fmts[0] if from_fmts else None] * len(srcs)
    readers = [get_format(f).name if f else None for f in given]
    fmt = get_format(to_fmt).name if to_fmt else (readers[0] or io.detect_format(srcs[0])[0])
    io.check_destination(dst, fmt, force=force, sources=list(srcs))
    done = _refuse_losses if strict else None
    # COCO into COCO with a big source: merged as streams, the same bytes in bounded memory
    streamed = (merge_files(srcs, dst, on_conflict=on_conflict, dedupe_iou=dedupe_iou,
                            drop_duplicates=drop_duplicates, match_by=match_by, names=list(srcs), force=force,
                            strict=strict, done=done)
                if fmt == "coco" and streams(srcs, readers, dst) else None)
    if streamed is not None:
        mreport, report = streamed
    else:
        datasets = [io.read(src, reader) for src, reader in zip(srcs, readers)]
        merged, mreport = merge(datasets, on_conflict, dedupe_iou, drop_duplicates, match_by, names=list(srcs))
        if done is not None:
            done(mreport)
        report = io.write(merged, dst, fmt, strict=strict, force=force, sources=list(srcs))
    if as_json:
        click.echo(json.dumps({"merge": mreport.to_dict(), "write": report.to_dict()}, indent=2, default=str))
    if not quiet:
        click.echo(mreport.text(), err=True)
        click.echo(_write_summary(summary_text(report, []), mreport), err=True)


_NO_LOSS = "no loss: the output holds everything the input did"


def _refuse_losses(mreport) -> None:
    """--strict: refuse a merge that lost something (before anything is written)."""
    if mreport.losses:
        raise LossError(_loss_message(mreport))


def _write_summary(text: str, mreport) -> str:
    """The write report's summary; its "no loss" line is not the whole truth when the merge itself lost something."""
    if not mreport.losses or _NO_LOSS not in text:
        return text
    codes = ", ".join(sorted({n.code for n in mreport.losses}))
    return text.replace(_NO_LOSS, f"no write loss; the merge itself left {len(mreport.losses)} thing(s) out "
                                  f"({codes}, marked [loss] above)")


def _loss_message(mreport) -> str:
    """The --strict refusal: each loss code of the merge with its count and meaning."""
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..merging import LOSS_CODES, describe

    lines = ["the merge would lose information (strict mode, nothing written):"]
    for code, n in mreport.summary().items():
        if code in LOSS_CODES:
            lines.append(f"  {code} x{n}: {describe(code)}")
    return "\n".join(lines)
