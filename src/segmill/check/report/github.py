"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per finding."""

from __future__ import annotations

from typing import Iterator

__all__ = ["github_chunks", "render_github"]

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(s: str) -> str:
    return _data(s).replace(":", "%3A").replace(",", "%2C")


def render_github(result) -> str:
    """``::error file=F,title=CODE::name: location: message`` lines (escaped as GitHub requires)."""
    return "".join(github_chunks(result))


def github_chunks(result) -> Iterator[str]:
    """:func:`render_github`'s lines, one finding at a time (each with its newline)."""
    names = {r.code: r.name for r in result.rules}
    for f in result.findings:
        props = []
        if f.file:
            props.append(f"file={_prop(f.file)}")
        props.append(f"title={_prop(f.code)}")
        where = f.location().split(": ", 1)[-1] if f.file else f.location()
        text = f"{names.get(f.code, f.code)}: {where}: {f.message}"
        yield f"::{_LEVEL[f.severity]} {','.join(props)}::{_data(text)}\n"
