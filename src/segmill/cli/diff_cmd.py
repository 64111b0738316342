"""``segmill diff``: what changed between two versions of a dataset."""

from __future__ import annotations

import sys

import click

from . import main
from ._common import EXIT_FINDINGS, emit, memory_budget_option, quiet_option, run_guarded, setup_progress


def split_base_head(paths: tuple[str, ...], base_rev: str | None) -> tuple[str | None, str]:
    """``[BASE] HEAD`` positionals: one path with ``--base-rev``, two without."""
    if base_rev is not None:
        if len(paths) != 1:
            raise click.UsageError("with --base-rev give exactly one path (HEAD)")
        return None, paths[0]
    if len(paths) != 2:
        raise click.UsageError("give BASE and HEAD paths, or HEAD with --base-rev REV")
    return paths[0], paths[1]


@main.command("diff")
@click.argument("paths", nargs=-1, metavar="[BASE] HEAD")
@click.option("--format", "fmt", help="Input format of both versions (detected on HEAD by default).")
@click.option("--base-rev", metavar="REV", help="Take BASE from git: HEAD's own path at this revision.")
@click.option("--match", type=click.Choice(["auto", "id", "iou"]), default="auto", show_default=True,
              help="How annotations are paired: by id, by mask IoU, or ids when they are stable.")
@click.option("--match-iou", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              help="Minimum IoU of an annotation pair when matching by IoU.")
@click.option("--output-format", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (atomically).")
@click.option("--limit", type=click.IntRange(0), default=20, show_default=True,
              help="Changes listed in text and markdown reports.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when the versions differ (like git diff --exit-code).")
@quiet_option
@memory_budget_option
@run_guarded
def diff_cmd(paths, fmt, base_rev, match, match_iou, output_format, output, limit, exit_code, quiet):
    """Show what changed between BASE and HEAD.

    Images are matched by file name (the whole name, else its last component,
    else its stem, each when unique; ids only for what is left, so a round trip
    that renumbered ids still pairs the same files); annotations by id when ids
    are stable, else by optimal mask IoU. Reports images and annotations added,
    removed, relabelled and reshaped (with IoU), category map changes and
    per-class counts and areas before and after.

    \b
    Examples:
      segmill diff old/instances.json new/instances.json
      segmill diff data/instances.json --base-rev origin/main --output-format markdown
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..gate import diff, open_versions, render_diff_chunks

    setup_progress(quiet)
    base, head = split_base_head(paths, base_rev)
    with open_versions(base, head, base_rev=base_rev, format=fmt) as v:
        d = diff(v.base, v.head, match=match, match_iou=match_iou, base_label=v.base_label,
                 head_label=v.head_label)
    emit(render_diff_chunks(d, output_format, limit), output)
    if output and not quiet:
        click.echo(f"segmill diff: report written to {output}", err=True)
    if exit_code and d.changed:
        sys.exit(EXIT_FINDINGS)
