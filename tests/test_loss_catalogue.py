"""The loss-code catalogue as `segmill formats` shows it."""


from __future__ import annotations

import json

from click.testing import CliRunner

import segmill
from segmill.cli import main


def _check(path, fmt):
    return CliRunner().invoke(main, ["check", str(path), "--format", fmt, "--output-format", "json"])


def _codes(result):
    doc = json.loads(result.output)
    return {f["code"] for f in doc["findings"]}


# --------------------------------------------- segmill formats lists all codes
def test_formats_lists_every_loss_code_declared_anywhere_in_a_fresh_process():
    import importlib
    import pkgutil
    import subprocess
    import sys
    from pathlib import Path

    from segmill.losses import all_codes

    for mod in pkgutil.walk_packages(segmill.__path__, "segmill."):
        spec = importlib.util.find_spec(mod.name)
        if spec.origin and spec.origin.endswith(".py") and "register_codes(" in Path(spec.origin).read_text():
            importlib.import_module(mod.name)
    declared = all_codes()
    assert "L705" in declared and "L701" in declared
    out = subprocess.run([sys.executable, "-m", "segmill", "formats", "--json"], capture_output=True, text=True,
                         check=True).stdout
    listed = json.loads(out)["loss_codes"]
    assert {c: t for c, t in declared.items() if listed.get(c) != t} == {}
