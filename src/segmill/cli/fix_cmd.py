"""``segmill fix SRC DST``: apply the safe automatic fixes of check rules, write the result in SRC's format."""

from __future__ import annotations

import json

import click

from ..errors import InputError
from . import main
from ._common import DatasetPath, memory_budget_option, quiet_option, run_guarded, setup_progress


def _codes(values) -> list[str] | None:
    """``("G011,G012", "S")`` -> ``["G011", "G012", "S"]``; ``None`` when nothing was given."""
    if not values:
        return None
    return [c.strip().upper() for v in values for c in v.split(",") if c.strip()]


@main.command("fix")
@click.argument("src", type=DatasetPath(exists=True))
@click.argument("dst", type=click.Path(), required=False)
@click.option("--format", "fmt", metavar="F", help="Input format (detected when omitted); DST gets the same.")
@click.option("--select", multiple=True, metavar="CODES",
              help="Rule codes or prefixes whose fixes run, comma-separated (replaces the default set).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes whose fixes do not run.")
@click.option("--dry-run", is_flag=True, help="Print what would be fixed; write nothing (DST may be left out).")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also drop what no reader or writer can keep (unreadable records, annotations of unlisted "
                   "images or undeclared categories, undecodable geometry) and renumber repeated ids; each is "
                   "reported.")
@click.option("--force", is_flag=True,
              help="Replace DST if it is empty or a previous output of the format (never the source).")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report format (on stdout).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="Read settings from this segmill.toml / pyproject.toml instead of searching for one.")
@quiet_option
@memory_budget_option
@run_guarded
def fix_command(src, dst, fmt, select, ignore, dry_run, unsafe_fixes, force, output_format, config_file,
                quiet):
    """Fix what can be fixed safely in SRC and write the result to DST, in SRC's format.

    Every fix is reported as `file:record: CODE fixed: what`; findings of
    fixable rules that are not safe to fix are listed as not fixed. The fixes
    run in a fixed order (`segmill rules` marks the fixable rules; see
    docs/fix.md) and the result is checked again, so fixing DST once more
    changes nothing. Exit 0 when fixes were applied or there was nothing to
    fix, 2 on bad input or usage (nothing written). DST is never SRC, and an
    existing DST is replaced only with --force. With --unsafe-fixes, records
    no reader can keep are dropped and repeated ids renumbered (each reported)
    instead of refusing to write.

    Example: segmill fix fixtures/fix/annotations.json fixed.json
    """
    # lazy: start-up time (io loads the format registry, check the rules and numba kernels)
    from .. import io
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..check import load_config
    from ..check.fixes import fix

    setup_progress(quiet)
    if dst is None and not dry_run:
        raise click.UsageError("DST is required (or give --dry-run to only see what would be fixed)")
    name = fmt or io.detect_format(src)[0]
    if not dry_run:
        io.check_destination(dst, name, force=force, sources=[src])
    cfg = load_config(file=config_file) if config_file else load_config()
    cfg = cfg.override(select=_codes(select), ignore=_codes(ignore))
    ds = io.read(src, name, errors="keep")
    fixed, report = fix(ds, config=cfg, path=src, unsafe_fixes=unsafe_fixes)
    problem = _unwritable(fixed, src, unsafe_fixes)
    written = None
    if not dry_run:
        if problem is not None:
            raise problem
        written = io.write(fixed, dst, name, force=force, sources=[src])
    _print_report(report, output_format, {"source": str(src), "destination": None if dst is None else str(dst),
                                          "format": name, "dry_run": dry_run, "written": written is not None})
    if quiet:
        return
    if written is not None:
        click.echo(_written_line(written), err=True)
    elif problem is not None:
        click.echo(f"segmill: note: the fixed dataset could not be written: {problem}", err=True)


def _unwritable(dataset, src, unsafe: bool = False):
    """An :class:`~segmill.errors.InputError` saying why ``dataset`` cannot be written back, or None.

    The read was lenient: records it dropped would be lost, annotations of
    unlisted images would gain an image, and whatever the writer's own
    validation refuses (duplicate ids, unknown categories, geometry that
    stayed malformed) has no safe fix; unless ``unsafe`` fixes ran, the
    message ends naming ``--unsafe-fixes``, which drops or renumbers it.
    """
    unsafe_hint = "" if unsafe else "; or give --unsafe-fixes to drop or renumber it, each drop reported"
    hint = (" (the output would still hold it: correct it by hand, or select its fix if its rule has one; "
            f"segmill check lists every finding, segmill rules the fixable rules{unsafe_hint})")
    for entry in dataset.meta.get("skipped", ()) or ():
        if "(kept" not in str(entry.get("reason", "")):
            tail = "" if unsafe else "; or give --unsafe-fixes to drop this record (reported as S014)"
            return InputError(f"{entry.get('reason')} (the reader could not keep this, so writing would lose it: "
                              f"correct it by hand{tail})", entry.get("path") or src, entry.get("record"))
    if dataset.meta.get("placeholder_images") or dataset.meta.get("orphan_annotations"):
        ids = list(dataset.meta.get("placeholder_images") or ())
        return InputError(f"annotations name images that are not listed ({', '.join(map(repr, ids[:5]))}){hint}",
                          src)
    try:
        dataset.validate(src)
    except InputError as exc:
        return InputError(exc.message + hint, exc.path, exc.record)
    return None


def _print_report(report, output_format: str, head: dict) -> None:
    from ..check.fixes import render_fix_text  # lazy: start-up time (see fix_command)

    if output_format == "json":
        body = report.to_dict()
        click.echo(json.dumps({"schema": body.pop("schema"), **head, **body}, indent=2, default=str))
    else:
        click.echo(render_fix_text(report, dry_run=head["dry_run"]), nl=False)


def _written_line(report) -> str:
    """``segmill: wrote coco to out.json: 16 images, 50 annotations`` plus any loss, one line each."""
    from ..losses import describe  # lazy: start-up time (only once something was written)

    lines = [f"segmill: wrote {report.format} to {report.path}: {report.items} images, {report.annotations} "
             "annotations"]
    for code, n in report.summary().items():
        lines.append(f"  loss {code} x{n}: {describe(code)}")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)
