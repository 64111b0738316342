"""Regenerate the docs tables that come from segmill's registries.

The rule tables of ``docs/check.md`` and ``docs/ci.md``, the fix table of ``docs/fix.md``, the loss-code tables
of ``docs/formats.md`` and the format table of ``README.md`` are written from
the rule catalogue (:mod:`segmill.check.registry`), the loss-code catalogue
(:mod:`segmill.losses`) and the format registry (:mod:`segmill.formats`), so
they cannot drift from the code. A generated block sits between two markers::

    <!-- generated: NAME [ARG] (tools/gen_docs.py; do not edit) -->
    ...
    <!-- end generated -->

Usage::

    python tools/gen_docs.py            # rewrite the blocks in place
    python tools/gen_docs.py --check    # exit 1 and name the stale files (a test runs this)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("README.md", "docs/check.md", "docs/ci.md", "docs/fix.md", "docs/formats.md")
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+)(?: (?P<arg>\S+))? \(tools/gen_docs\.py; do not edit\) -->\n)"
                    r"(?P<body>.*?)(<!-- end generated -->)", re.S)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _fixable(r) -> str:
    """The "fixable" cell: ``yes``, ``yes, only to exact copies``, ``unsafe`` (``--unsafe-fixes``), or empty."""
    safe = "" if r.fix is None else f"yes, only {r.fix.when}" if r.fix.when else "yes"
    if r.unsafe_fix is None:
        return safe
    return f"{safe}; the rest unsafe" if safe else "unsafe (--unsafe-fixes)"


def check_rules(_arg=None) -> str:
    """The check rule table: code, name, severity, whether ``segmill fix`` fixes it, summary."""
    from segmill.check.registry import all_rules

    rows = ["| code | name | severity | fixable | what it finds |", "| --- | --- | --- | --- | --- |"]
    for r in all_rules("check"):
        sev = r.severity if r.default else f"{r.severity}, off by default"
        rows.append(f"| {r.code} | {r.name} | {sev} | {_cell(_fixable(r))} | {_cell(r.summary)} |")
    return "\n".join(rows) + "\n"


def fixes_table(_arg=None) -> str:
    """The fixes in the order ``segmill fix`` applies them: stage, name, rules, what it does, when.

    Unsafe fixes (run only with ``--unsafe-fixes``) are marked in the name column.
    """
    from segmill.check.registry import all_rules

    stages: dict = {}
    for r in all_rules("check"):
        for fx in r.fixes(unsafe=True):
            stages.setdefault(id(fx), (fx, []))[1].append(r.code)
    rows = ["| order | fix | rules | what it does | applies |", "| --- | --- | --- | --- | --- |"]
    for fx, codes in sorted(stages.values(), key=lambda fc: (fc[0].stage, fc[0].name)):
        name = f"{fx.name} (unsafe: --unsafe-fixes)" if fx.unsafe else fx.name
        rows.append(f"| {fx.stage} | {name} | {', '.join(codes)} | {_cell(fx.summary)} | "
                    f"{_cell('only ' + fx.when if fx.when else 'always')} |")
    return "\n".join(rows) + "\n"


def gate_rules(_arg=None) -> str:
    """One section per gate rule: heading, default severity, summary, doc."""
    from segmill.check.registry import all_rules

    parts = []
    for r in all_rules("gate"):
        summary = r.summary[:1].upper() + r.summary[1:]
        parts.append(f"### {r.code} {r.name}\n\nDefault severity: **{r.severity}**. {summary}.\n\n{r.doc}\n")
    return "\n".join(parts)


def loss_codes(prefix=None) -> str:
    """The loss codes (those starting with ``prefix`` when given): code and meaning."""
    from segmill.losses import all_codes

    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| {c} | {_cell(t)} |" for c, t in all_codes().items() if not prefix or c.startswith(prefix)]
    return "\n".join(rows) + "\n"


def _format_codes(names: list[str]) -> dict[str, list[str]]:
    """Each format's own loss codes: those declared by ``formats/<name>.py`` or ``formats/_<name>_*.py``."""
    from segmill.losses import owners

    out: dict[str, list[str]] = {n: [] for n in names}
    for code, module in owners().items():
        base = module.rsplit(".", 1)[-1].lstrip("_")
        for n in names:
            rest = base[len(n) + 1:] if base.startswith(n + "_") else None
            if base == n or (rest is not None and rest not in names and f"{n}_{rest}" not in names):
                out[n].append(code)
    return out


def formats_table(_arg=None) -> str:
    """The format registry: name, read, write, what it writes, its own loss codes, description."""
    from segmill.formats import formats, get_format

    names = list(formats())
    codes = _format_codes(names)
    rows = ["| format | read | write | streams | writes | its loss codes | what |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in names:
        spec = get_format(name)
        rows.append(f"| `{name}` | {'yes' if spec.read else 'no'} | {'yes' if spec.write else 'no'} | "
                    f"{_streams(spec)} | {'a file' if spec.output == 'file' else 'a folder'} | "
                    f"{', '.join(codes[name]) or '-'} | {_cell(spec.description)} |")
    return "\n".join(rows) + "\n"


def _streams(spec) -> str:
    """Which sides of a format work one image at a time: its reader (``stream``), its writer (``write_stream``)."""
    sides = [side for side, fn in (("read", spec.stream), ("write", spec.write_stream)) if fn is not None]
    return ", ".join(sides) or "-"


def _yes_no(value) -> str:
    return {True: "yes", False: "no"}.get(value, str(value))


def interop_table(_arg=None) -> str:
    """The interop outcomes recorded by ``tools/interop_table.py`` in ``docs/interop-results.json``."""
    rows = json.loads((ROOT / "docs" / "interop-results.json").read_text(encoding="utf-8"))
    out = ["| format | client | direction | loads | instance counts equal | masks | note |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| `{r['format']}` | {_cell(r['client'])} | {_cell(r.get('direction', ''))} | "
                   f"{_yes_no(r['loads'])} | {_yes_no(r['counts_equal'])} | {_cell(r['masks'])} | "
                   f"{_cell(r.get('note', '')) or '-'} |")
    return "\n".join(out) + "\n"


GENERATORS = {"check-rules": check_rules, "gate-rules": gate_rules, "loss-codes": loss_codes,
              "formats": formats_table, "interop": interop_table, "fixes": fixes_table}


def render(text: str, where: str) -> str:
    """``text`` with every generated block rewritten."""

    def one(m: re.Match) -> str:
        gen = GENERATORS.get(m.group("name"))
        if gen is None:
            raise SystemExit(f"{where}: unknown generated block {m.group('name')!r}")
        return m.group(1) + gen(m.group("arg")) + m.group(5)

    return _BLOCK.sub(one, text)


def stale(root: Path = ROOT) -> list[str]:
    """The files whose generated blocks differ from what the registries give now."""
    out = []
    for rel in FILES:
        text = (root / rel).read_text(encoding="utf-8")
        if render(text, rel) != text:
            out.append(rel)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    opts = ap.parse_args(argv)
    if opts.check:
        bad = stale()
        for rel in bad:
            print(f"{rel}: generated tables are stale; run python tools/gen_docs.py", file=sys.stderr)
        return 1 if bad else 0
    for rel in FILES:
        path = ROOT / rel
        text = path.read_text(encoding="utf-8")
        new = render(text, rel)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
