"""``segmill formats``: the registered formats, their options, and the loss codes."""

from __future__ import annotations

import json

import click

from . import main


@main.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def formats_command(as_json):
    """List formats (read/write, options) and every loss code a writer may report.

    Example: segmill formats
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..formats import formats
    from ..losses import all_codes

    specs = sorted(formats().values(), key=lambda s: s.name)
    codes = all_codes()
    if as_json:
        out = {
            "formats": [
                {"name": s.name, "description": s.description, "read": s.read is not None,
                 "write": s.write is not None, "output": s.output,
                 "options": {o.name: o.describe() for o in s.options}}
                for s in specs
            ],
            "loss_codes": codes,
        }
        click.echo(json.dumps(out, indent=2))
        return
    lines = ["formats:"]
    for s in specs:
        rw = "/".join(x for x, ok in (("read", s.read), ("write", s.write)) if ok)
        lines.append(f"  {s.name} [{rw}, {s.output}]: {s.description}")
        for o in s.options:
            flag = o.flag if o.cli else "--skip-invalid" if o.name == "errors" else "(Python only)"
            lines.append(f"      {o.name} ({flag}) {o.describe()}")
    lines.append("loss codes:")
    for code, text in codes.items():
        lines.append(f"  {code}  {text}")
    click.echo("\n".join(lines))
