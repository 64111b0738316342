"""``segmill check`` and ``segmill rules``: a thin layer over :mod:`segmill.check`."""

from __future__ import annotations

import json
import sys

import click

from . import main
from ._common import (EXIT_FINDINGS, EXIT_OK, DatasetPath, emit, memory_budget_option, quiet_option, run_guarded,
                      setup_progress)
from ._workers import sharding, workers_options


def _codes(values) -> list[str] | None:
    """``("S001,G", "C")`` -> ``["S001", "G", "C"]``; ``None`` when nothing was given."""
    if not values:
        return None
    out = []
    for v in values:
        out.extend(c.strip().upper() for c in v.split(",") if c.strip())
    return out


@main.command("check")
@click.argument("paths", nargs=-1, required=True, type=DatasetPath(exists=True))
@click.option("--format", "fmt", metavar="F", help="Input format (detected when omitted).")
@click.option("--select", multiple=True, metavar="CODES",
              help="Rule codes or prefixes to run, comma-separated (replaces the default set).")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Rule codes or prefixes to add.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to skip.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]),
              help="Lowest severity that makes the exit code 1 (default: error, or the config's).")
@click.option("--output-format", type=click.Choice(["text", "json", "junit", "sarif", "github"]),
              default="text", show_default=True, help="Report format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE (atomically).")
@click.option("--statistics", is_flag=True, help="Text report: one count per rule instead of locations.")
@click.option("--max-locations", type=click.IntRange(min=0), default=10, show_default=True,
              help="Text report: findings listed per rule.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="Read settings from this segmill.toml / pyproject.toml instead of searching for one.")
@click.option("--image-root", type=click.Path(file_okay=False), help="Folder holding the image files.")
@quiet_option
@memory_budget_option
@workers_options
@run_guarded
def check_command(paths, fmt, select, extend_select, ignore, fail_on, output_format, output, statistics,
                  max_locations, config_file, image_root, quiet):
    """Lint one or more datasets (splits) and report findings with rule codes.

    Settings come from [tool.segmill] in pyproject.toml or segmill.toml (the
    nearest one up from the current folder); options here override them.
    Exit codes: 0 nothing at or above the fail level, 1 findings, 2 usage or
    unreadable input.
    """
    # lazy: start-up time (segmill.check loads the rules and numba kernels)
    from ..check import check_path, load_config
    from ..check.report import render_chunks

    setup_progress(quiet)
    cfg = load_config(file=config_file) if config_file else load_config()
    cfg = cfg.override(select=_codes(select), extend_select=_codes(extend_select), ignore=_codes(ignore),
                       fail_on=fail_on, image_root=image_root)
    if (sharded := sharding()) is not None:
        result = sharded.check(list(paths), format=fmt, config=cfg)
    else:  # a big COCO file or SA-1B streams (same findings); the rest, or a record the stream refuses: whole
        from ..check.streamed import check_streamed  # lazy: start-up time

        result = check_streamed(list(paths), format=fmt, config=cfg)
        if result is None:
            result = check_path(list(paths), format=fmt, config=cfg)
    options = {"max_locations": max_locations, "statistics": statistics} if output_format == "text" else {}
    emit(render_chunks(result, output_format, **options), output)  # written as made, never held whole
    if output and not quiet:
        from ..check.report.text import summary_line  # lazy: start-up time (see check_command)

        click.echo(summary_line(result), err=True)
    sys.exit(EXIT_FINDINGS if result.failed() else EXIT_OK)


@main.command("rules")
@click.argument("code", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable catalogue.")
@run_guarded
def rules_command(code, as_json):
    """List the rule catalogue, or explain one rule (by code or name)."""
    from ..check import get_rule, rules  # lazy: start-up time (see check_command)

    if code:
        r = get_rule(code)
        if as_json:
            click.echo(json.dumps(r.to_dict(), indent=2))
            return
        state = "on" if r.default else "off"
        lines = [f"{r.code} {r.name}", "", f"Family: {r.family}. Default severity: {r.severity}. "
                 f"Default: {state}. Fixable: {_fix_text(r)}.", "", r.summary, "", r.doc]
        if r.options:
            lines += ["", "Options (in [tool.segmill.rules." + r.code + "]):"]
            for k, v in r.options.items():
                lines.append(f"  {k.replace('_', '-')} = {json.dumps(v)}  # {r.option_docs.get(k, '')}")
        click.echo("\n".join(lines))
        return
    catalogue = rules()
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in catalogue], indent=2))
        return
    for r in catalogue:
        mark = " " if r.default else "*"
        click.echo(f"{r.code}{mark} {r.name:<28} {r.severity:<8} {_fix_mark(r):<7}{r.summary}")
    if any(not r.default for r in catalogue):
        click.echo("\n* off by default: turn on with --extend-select CODE")
    if any(r.fixable for r in catalogue):
        click.echo("fix: segmill fix repairs these findings where it is safe (segmill rules CODE says when)")
    if any(r.unsafe_fixable for r in catalogue):
        click.echo("unsafe: fixable (unsafe), only by segmill fix --unsafe-fixes, which drops or renumbers records "
                   "(each reported)")
        click.echo("fix+: the safe fix where it applies, --unsafe-fixes the rest")


def _fix_mark(r) -> str:
    """The catalogue's fix column: ``fix``, ``fix+`` (and an unsafe fix), ``unsafe`` or nothing."""
    if r.fixable:
        return "fix+" if r.unsafe_fixable else "fix"
    return "unsafe" if r.unsafe_fixable else ""


def _fix_text(r) -> str:
    """``no``, or what the rule's fix does and when it applies."""
    unsafe = ""
    if r.unsafe_fix is not None:
        u_when = f"; applies only {r.unsafe_fix.when}" if r.unsafe_fix.when else ""
        unsafe = f"segmill fix --unsafe-fixes: {r.unsafe_fix.summary}{u_when}"
    if r.fix is None:
        return f"unsafe only ({unsafe})" if unsafe else "no"
    when = f"; applies only {r.fix.when}" if r.fix.when else ""
    return f"yes (segmill fix: {r.fix.summary}{when}{'; ' + unsafe if unsafe else ''})"
