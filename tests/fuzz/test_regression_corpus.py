"""Every minimized crasher ever found, replayed through the command line.

``tests/fuzz/corpus/<format>/<case>`` is a file or a folder that once made a
reader (or a writer behind ``convert``) raise something other than a
``SegmillError``. Each case must now give, through ``segmill info`` and
``segmill convert`` (to the same format):

- exit 2 with exactly one line on stderr, no traceback, and nothing written;
- or, for cases named ``ok_*`` (input that is valid after all), exit 0.

Exit 3 (internal error) is never acceptable. Every case runs through the
command in this process (the guard that maps outcomes to exit codes is the
command's own); one refused case per format also runs as ``python -m segmill``
in a new process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
CASES = sorted(p for fmt in CORPUS_DIR.iterdir() if fmt.is_dir() for p in fmt.iterdir()
               if not p.name.startswith(".")) if CORPUS_DIR.is_dir() else []


class _Run:
    """What a command gave: exit code and stderr text."""

    def __init__(self, returncode: int, stderr: str):
        self.returncode, self.stderr = returncode, stderr


def _segmill(*args, cwd):
    """``segmill ARGS`` in this process (the command's own guard maps every outcome to its exit code)."""
    from click.testing import CliRunner

    from segmill.cli import main

    res = CliRunner().invoke(main, [str(a) for a in args])
    return _Run(res.exit_code, res.stderr)


def _segmill_process(*args, cwd):
    """``python -m segmill ARGS`` in a new process: the real entry point, interpreter start and exit included."""
    proc = subprocess.run([sys.executable, "-m", "segmill", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)
    return _Run(proc.returncode, proc.stderr)


def _check(r, ok: bool, what: str):
    assert r.returncode != 3 and "Traceback" not in r.stderr, f"{what}: {r.stderr}"
    if ok:
        assert r.returncode == 0, f"{what}: {r.stderr}"
    else:
        assert r.returncode == 2, f"{what}: exit {r.returncode}: {r.stderr}"
        assert r.stderr.count("\n") == 1, f"{what}: not one line: {r.stderr!r}"


def test_the_corpus_is_not_empty():
    assert len(CASES) >= 20


def _replay(case, tmp_path, run) -> None:
    fmt = case.parent.name
    ok = case.name.startswith("ok_")
    _check(run("info", case, "--format", fmt, cwd=tmp_path), ok, "info")
    out = tmp_path / "out"
    r = run("convert", case, out, "--from", fmt, "--to", fmt, "--quiet", cwd=tmp_path)
    _check(r, ok, "convert")
    if not ok:
        assert sorted(p.name for p in tmp_path.iterdir()) == [], "convert left output behind"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_case_exits_2_with_one_line_and_writes_nothing(case, tmp_path):
    _replay(case, tmp_path, _segmill)


#: One refused case per format through a real process (the entry point's exit path).
FIRST_PER_FORMAT = [next(c for c in CASES if c.parent == d and not c.name.startswith("ok_"))
                    for d in sorted({c.parent for c in CASES})]


@pytest.mark.parametrize("case", FIRST_PER_FORMAT, ids=[c.parent.name for c in FIRST_PER_FORMAT])
def test_a_real_process_gives_the_same_exit(case, tmp_path):
    _replay(case, tmp_path, _segmill_process)
