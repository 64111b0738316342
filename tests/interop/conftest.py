"""Interop harness: segmill writes in this interpreter, the real client reads in its own.

The clients (Ultralytics, supervision, labelme, Datumaro, pycocotools) live in
separate virtual environments, as they would on a user's machine, made by
``tools/interop_env.sh``: ``$SEGMILL_INTEROP_DIR`` (default
``/tmp/segmill-interop``) holds ``main/`` (ultralytics, supervision, labelme,
pycocotools) and ``datumaro/``. A test hands a small script to :func:`run_client`,
which runs it there and returns the JSON the script printed on its last line.

Every test here is marked ``interop``. Tests skip, with the command that makes
the environment, only when that environment is absent; ``.ci/run`` makes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tests here import _report (one row writer)

INTEROP_DIR = Path(os.environ.get("SEGMILL_INTEROP_DIR", "/tmp/segmill-interop"))
ENVS = {"main": INTEROP_DIR / "main", "datumaro": INTEROP_DIR / "datumaro"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/interop/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.interop)


def client_python(env: str = "main") -> Path:
    """The interpreter of client environment ``env``; skips the test when it was never made."""
    py = ENVS[env] / "bin" / "python"
    if not py.exists():
        pytest.skip(f"interop environment {env!r} not found at {ENVS[env]}: run `bash tools/interop_env.sh`")
    return py


def run_client(code: str, *args, env: str = "main", timeout: float = 600):
    """Run ``code`` (a Python script) in the client environment; return the JSON of its last stdout line.

    ``args`` become ``sys.argv[1:]``. A failing script fails the test with its stderr.
    """
    py = client_python(env)
    proc = subprocess.run([str(py), "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore",
                                                           "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False"})
    if proc.returncode != 0:
        pytest.fail(f"client script failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert lines, f"client script printed nothing; stderr:\n{proc.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.fixture
def client():
    """:func:`run_client`."""
    return run_client
