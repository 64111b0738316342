"""Every minimized crasher ever found, replayed through the real command line.

``tests/fuzz/corpus/<format>/<case>`` is a file or a folder that once made a
reader (or a writer behind ``convert``) raise something other than a
``SegmillError``. Each case must now give, through ``segmill info`` and
``segmill convert`` (to the same format):

- exit 2 with exactly one line on stderr, no traceback, and nothing written;
- or, for cases named ``ok_*`` (input that is valid after all), exit 0.

Exit 3 (internal error) is never acceptable.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
CASES = sorted(p for fmt in CORPUS_DIR.iterdir() if fmt.is_dir() for p in fmt.iterdir()
               if not p.name.startswith(".")) if CORPUS_DIR.is_dir() else []


def _segmill(*args, cwd):
    return subprocess.run([sys.executable, "-m", "segmill", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def _check(r, ok: bool, what: str):
    assert r.returncode != 3 and "Traceback" not in r.stderr, f"{what}: {r.stderr}"
    if ok:
        assert r.returncode == 0, f"{what}: {r.stderr}"
    else:
        assert r.returncode == 2, f"{what}: exit {r.returncode}: {r.stderr}"
        assert r.stderr.count("\n") == 1, f"{what}: not one line: {r.stderr!r}"


def test_the_corpus_is_not_empty():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_case_exits_2_with_one_line_and_writes_nothing(case, tmp_path):
    fmt = case.parent.name
    ok = case.name.startswith("ok_")
    _check(_segmill("info", case, "--format", fmt, cwd=tmp_path), ok, "info")
    out = tmp_path / "out"
    r = _segmill("convert", case, out, "--from", fmt, "--to", fmt, "--quiet", cwd=tmp_path)
    _check(r, ok, "convert")
    if not ok:
        assert sorted(p.name for p in tmp_path.iterdir()) == [], "convert left output behind"
