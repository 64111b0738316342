"""Run a small script in one of the interop client environments and return the JSON it printed last.

The environments (``$SEGMILL_INTEROP_DIR``, default ``/tmp/segmill-interop``:
``main/`` with OpenCV, ``datumaro/`` with Datumaro) are made by
``tools/interop_env.sh``; a test calling :func:`run` skips, naming that
command, when the environment is absent. Used by the format tests that take
OpenCV or Datumaro as their oracle (``tests/test_open_images.py`` ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

INTEROP = Path(os.environ.get("SEGMILL_INTEROP_DIR", "/tmp/segmill-interop"))


def run(env: str, code: str, *args):
    """Run ``code`` with ``args`` as ``sys.argv[1:]`` in environment ``env``; the JSON of its last line."""
    py = INTEROP / env / "bin" / "python"
    if not py.exists():
        pytest.skip(f"interop environment {env!r} not found at {INTEROP}: run `bash tools/interop_env.sh`")
    proc = subprocess.run([str(py), "-c", textwrap.dedent(code), *map(str, args)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
