"""``segmill gate``: decide whether a change to a dataset may merge."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from . import main
from ._common import EXIT_FINDINGS, emit, memory_budget_option, quiet_option, run_guarded, setup_progress
from .diff_cmd import split_base_head

_FORMATS = ["text", "json", "junit", "sarif", "github", "markdown"]


@main.command("gate")
@click.argument("paths", nargs=-1, metavar="[BASE] HEAD")
@click.option("--format", "fmt", help="Input format of both versions (detected on HEAD by default).")
@click.option("--base-rev", metavar="REV", help="Take BASE from git: HEAD's own path at this revision.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="pyproject.toml or segmill.toml to read (default: the nearest one up from the current folder).")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Accepted findings (JSON, see --write-baseline).")
@click.option("--write-baseline", type=click.Path(dir_okay=False),
              help="Write every check finding of HEAD to this baseline file, then gate with it.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]),
              help="Lowest severity that fails the gate [config, else error].")
@click.option("--select", help="Comma-separated gate rule codes to run (default: all).")
@click.option("--ignore", help="Comma-separated gate rule codes to skip.")
@click.option("--annotators", multiple=True, type=click.Path(exists=False),
              help="An annotator's dataset merged into HEAD (repeat; enables GATE020 agreement).")
@click.option("--output-format", type=click.Choice(_FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (atomically).")
@click.option("--summary", "summary_file", type=click.Path(dir_okay=False),
              help="Also APPEND the markdown report to this file (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--docs-url", help="Base URL of the rule documentation for links in reports.")
@click.option("--limit", type=click.IntRange(0), default=20, show_default=True,
              help="Findings and changes listed per section in text and markdown reports.")
@quiet_option
@memory_budget_option
@run_guarded
def gate_cmd(paths, fmt, base_rev, config_file, baseline, write_baseline, fail_on, select, ignore, annotators,
             output_format, output, summary_file, docs_url, limit, quiet):
    """Fail (exit 1) when HEAD may not replace BASE.

    Rules GATE001-GATE020 (see docs/ci.md): new check findings, breaking
    category map changes, drift beyond thresholds, images emptied, too many
    existing annotations modified, low agreement between annotators.
    Settings come from [tool.segmill.gate]. Exit 0 pass, 1 fail, 2 usage or
    input error.

    \b
    Examples:
      segmill gate old/instances.json new/instances.json
      segmill gate data/instances.json --base-rev origin/main --output-format markdown
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..spilled import spill_or_read
    from ..gate import (Baseline, gate, load_baseline, load_configs, open_versions, render_gate,
                        render_gate_chunks)

    setup_progress(quiet)
    base, head = split_base_head(paths, base_rev)
    # Same discovery as `segmill check`: the nearest config up from the current folder.
    check_cfg, cfg = load_configs(config_file)
    changes = {}
    if select:
        changes["select"] = tuple(c.strip().upper() for c in select.split(",") if c.strip())
    if ignore:
        changes["ignore"] = cfg.ignore + tuple(c.strip().upper() for c in ignore.split(",") if c.strip())
    if docs_url:
        changes["docs_url"] = docs_url
    if changes:
        cfg = replace(cfg, **changes)
    bl_path = baseline or cfg.baseline
    bl = load_baseline(bl_path) if bl_path and not write_baseline else None
    ann_sets = None
    if annotators:
        stems = [Path(p).stem for p in annotators]
        keys = stems if len(set(stems)) == len(stems) else [str(p) for p in annotators]
        ann_sets = {k: spill_or_read(p, fmt) for k, p in zip(keys, annotators)}
    if fail_on:
        cfg = replace(cfg, fail_on=fail_on)
    with open_versions(base, head, base_rev=base_rev, format=fmt) as v:
        res = gate(v.base, v.head, config=cfg, baseline=bl, check_config=check_cfg, annotators=ann_sets, origin=v)
    if write_baseline:
        new = Baseline.from_findings(res.head_check)
        new.write(write_baseline)
        res = res.with_baseline(new)
        if not quiet:
            click.echo(f"segmill gate: wrote {len(new)} accepted finding(s) to {write_baseline}", err=True)
    emit(render_gate_chunks(res, output_format, limit), output)
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(render_gate(res, "markdown", limit))
    if not quiet and (output or output_format != "text"):
        verdict = f"failed ({len(res.failing())} finding(s) at or above {res.fail_on})" if res.failed else "passed"
        click.echo(f"segmill gate: {verdict}", err=True)
    if res.failed:
        sys.exit(EXIT_FINDINGS)
