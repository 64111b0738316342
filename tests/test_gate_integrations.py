"""The CI integrations: the composite action's script, the pre-commit hook, the rule docs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from segmill.gate import RULES

ROOT = Path(__file__).resolve().parent.parent


def test_every_gate_rule_has_a_docs_heading_matching_its_link_anchor():
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^### (.+)$", text, flags=re.M)
    }
    assert {r.anchor() for r in RULES.values()} <= headings


def test_pre_commit_hook_runs_segmill_check():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "segmill-check" and hook["entry"] == "segmill check"
    assert hook["language"] == "python" and hook["pass_filenames"] is False


def _action_script():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    (step,) = [s for s in action["runs"]["steps"] if s.get("name") == "segmill gate"]
    return action, step


def test_action_inputs_are_all_passed_to_the_script_through_the_environment():
    action, step = _action_script()
    for name in action["inputs"]:
        if name in ("install", "python-version"):
            continue
        assert any(v == f"${{{{ inputs.{name} }}}}" for v in step["env"].values()), name
    assert "${{" not in step["run"]  # no expression is pasted into the script (injection)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_action_script_gates_a_repository_and_writes_the_job_summary(tmp_path):
    _, step = _action_script()
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    base = json.loads((ROOT / "fixtures" / "gate" / "base.json").read_text())

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.name", "segmill test")
    git("config", "user.email", "test@example.invalid")
    git("config", "commit.gpgsign", "false")
    (repo / "data" / "instances.json").write_text(json.dumps(base))
    git("add", "-A")
    git("commit", "-q", "-m", "v1")
    base["annotations"] = [a for a in base["annotations"] if a["image_id"] != 3]  # empties img3.jpg
    (repo / "data" / "instances.json").write_text(json.dumps(base))
    git("commit", "-q", "-am", "v2")
    summary = tmp_path / "summary.md"
    env = dict(os.environ, DATASET="data/instances.json", BASE_REV="", FORMAT="", CONFIG="", BASELINE="",
               FAIL_ON="", EXTRA_ARGS="--ignore GATE010", ACTION_REPO="owner/segmill", ACTION_REF="v1",
               GITHUB_SERVER_URL="https://github.com", GITHUB_REPOSITORY="me/data", GITHUB_SHA="abc",
               GITHUB_STEP_SUMMARY=str(summary))
    env.pop("GITHUB_BASE_REF", None)
    # the console script sits next to the interpreter running the tests
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    p = subprocess.run(["bash", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "::error file=data/instances.json,title=GATE012::" in p.stdout
    md = summary.read_text()
    assert md.startswith("### ❌ segmill gate failed")
    assert "(https://github.com/owner/segmill/blob/v1/docs/ci.md#gate012-images-emptied)" in md
