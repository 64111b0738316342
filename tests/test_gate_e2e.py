"""End to end: a dataset in a real git repository, gated through the real CLI.

Each test commits one change on top of a committed COCO dataset and runs
``segmill gate data/instances.json --base-rev HEAD~1`` in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from segmill.cli import main


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def square(x, y, s):
    return [[x, y, x + s, y, x + s, y + s, x, y + s]]


def coco():
    cats = [{"id": 1, "name": "cat", "supercategory": "animal"},
            {"id": 2, "name": "dog", "supercategory": "animal"},
            {"id": 3, "name": "bird", "supercategory": "animal"}]
    images, anns = [], []
    aid = 0
    for i in range(1, 7):
        images.append({"id": i, "file_name": f"img{i}.jpg", "width": 120, "height": 100})
        for cat, (x, y, s) in zip((1, 2, 3), ((5, 5, 20), (40, 30, 30), (80, 60, 25))):
            aid += 1
            seg = square(x, y, s)
            anns.append({"id": aid, "image_id": i, "category_id": cat, "segmentation": seg,
                         "area": float(s * s), "bbox": [x, y, s, s], "iscrowd": 0})
    return {"images": images, "annotations": anns, "categories": cats}


def write(repo, data):
    (repo / "data" / "instances.json").write_text(json.dumps(data, indent=1))


def commit(repo, msg):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", msg)


@pytest.fixture()
def repo(tmp_path):
    r = tmp_path / "repo"
    (r / "data").mkdir(parents=True)
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.name", "segmill test")
    git(r, "config", "user.email", "test@example.invalid")
    git(r, "config", "commit.gpgsign", "false")
    write(r, coco())
    commit(r, "dataset v1")
    return r


def gate(repo, *args):
    """Run the real CLI in a subprocess, in the repository (exit code from a real process)."""
    cmd = [sys.executable, "-m", "segmill", "gate", "data/instances.json", "--base-rev", "HEAD~1", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True)


def gate_in_process(repo, monkeypatch, *args, command="gate"):
    """The same command line through click's test runner (faster: no interpreter start-up)."""
    from click.testing import CliRunner

    monkeypatch.chdir(repo)
    r = CliRunner().invoke(main, [command, "data/instances.json", "--base-rev", "HEAD~1", *args])
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def test_relabel_passes_and_is_reported(repo):
    data = coco()
    data["annotations"][0]["category_id"] = 2  # annotation 1: cat -> dog
    write(repo, data)
    commit(repo, "relabel")
    p = gate(repo)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "passed" in p.stdout
    assert "1 relabelled" in p.stdout and "17 unchanged" in p.stdout


def test_broken_polygon_fails_naming_the_new_check_finding(repo):
    data = coco()
    data["annotations"][6]["segmentation"] = [[1, 2, 3, 4]]  # annotation 7: a 2-point polygon
    write(repo, data)
    commit(repo, "break a polygon")
    p = gate(repo)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FAILED" in p.stdout
    failing = [ln for ln in p.stdout.splitlines() if ln.strip().startswith("error:")]
    assert failing and all("new " in ln and "annotation 7" in ln for ln in failing)
    assert "GATE001 new-check-findings" in p.stdout


def test_class_rename_warns_and_passes_but_fails_at_warning_level(repo, monkeypatch):
    data = coco()
    data["categories"][2]["name"] = "songbird"
    write(repo, data)
    commit(repo, "rename bird")
    p = gate(repo)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "GATE005 category-renamed" in p.stdout and "'bird' -> 'songbird'" in p.stdout
    strict = gate_in_process(repo, monkeypatch, "--fail-on", "warning")
    assert strict.returncode == 1


def test_category_id_reused_fails_with_the_reason(repo, monkeypatch):
    data = coco()
    data["categories"][0]["name"], data["categories"][1]["name"] = "dog", "cat"
    write(repo, data)
    commit(repo, "swap ids")
    p = gate_in_process(repo, monkeypatch, "--output-format", "json")
    assert p.returncode == 1
    report = json.loads(p.stdout)
    assert report["failed"] is True
    assert report["summary"]["by_rule"]["GATE002"] == 2
    assert any("id 1 reused: was 'cat', now 'dog'" in f["message"] for f in report["findings"])


def test_markdown_summary_is_appended_and_the_working_tree_is_untouched(repo, monkeypatch):
    data = coco()
    data["annotations"][0]["category_id"] = 2
    write(repo, data)
    commit(repo, "relabel")
    (repo / "summary.md").write_text("previous step\n")
    before = git(repo, "status", "--porcelain"), (repo / "data" / "instances.json").read_bytes()
    p = gate_in_process(repo, monkeypatch, "--output-format", "github", "--summary", "summary.md")
    assert p.returncode == 0
    assert p.stdout.rstrip().endswith("::notice title=segmill gate::segmill gate passed")
    summary = (repo / "summary.md").read_text()
    assert summary.startswith("previous step\n### ✅ segmill gate passed")
    assert (git(repo, "status", "--porcelain"), (repo / "data" / "instances.json").read_bytes()) == before


def test_diff_against_a_revision_counts_the_planted_changes(repo, monkeypatch):
    data = coco()
    data["annotations"][0]["category_id"] = 2
    data["annotations"][4]["segmentation"] = square(42, 30, 30)
    del data["annotations"][17]
    data["images"].append({"id": 7, "file_name": "img7.jpg", "width": 120, "height": 100})
    write(repo, data)
    commit(repo, "several changes")
    p = gate_in_process(repo, monkeypatch, "--output-format", "json", command="diff")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["images"] == {"added": 1, "removed": 0, "modified": 3, "unchanged": 3}
    assert d["annotations"] == {"added": 0, "removed": 1, "unchanged": 15, "modified": 2, "relabelled": 1,
                                "reshaped": 1, "attributes": 0}
    assert d["base"] == "data/instances.json@HEAD~1"


def test_path_that_did_not_exist_at_the_revision_exits_2(repo, monkeypatch):
    from click.testing import CliRunner

    (repo / "data" / "other.json").write_text(json.dumps(coco()))
    commit(repo, "add other")
    monkeypatch.chdir(repo)
    p = CliRunner().invoke(main, ["gate", "data/other.json", "--base-rev", "HEAD~1"])
    assert p.exit_code == 2
    assert "did not exist at revision 'HEAD~1'" in p.stderr and isinstance(p.exception, SystemExit)


def test_outside_a_git_repository_exits_2(tmp_path):
    (tmp_path / "instances.json").write_text(json.dumps(coco()))
    from click.testing import CliRunner

    r = CliRunner().invoke(main, ["gate", str(tmp_path / "instances.json"), "--base-rev", "HEAD"])
    assert r.exit_code == 2 and "not inside a git repository" in r.output


def test_both_base_path_and_base_rev_is_a_usage_error(repo):
    from click.testing import CliRunner

    path = str(repo / "data" / "instances.json")
    r = CliRunner().invoke(main, ["gate", path, path, "--base-rev", "HEAD"])
    assert r.exit_code == 2 and "exactly one path" in r.output


def test_gate_of_two_paths_without_git(tmp_path):
    from click.testing import CliRunner

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(coco()))
    data = coco()
    data["annotations"] = [x for x in data["annotations"] if x["image_id"] != 2]  # image 2 emptied
    b.write_text(json.dumps(data))
    r = CliRunner().invoke(main, ["gate", str(a), str(b)])
    assert r.exit_code == 1 and "GATE012" in r.output and "img2.jpg" in r.output


def test_write_baseline_accepts_the_current_findings(repo, monkeypatch):
    data = coco()
    data["annotations"][6]["segmentation"] = [[1, 2, 3, 4]]
    write(repo, data)
    commit(repo, "break a polygon")
    p = gate_in_process(repo, monkeypatch, "--write-baseline", "baseline.json")
    assert p.returncode == 0, p.stdout + p.stderr
    again = gate_in_process(repo, monkeypatch, "--baseline", "baseline.json")
    assert again.returncode == 0 and "accepted by baseline" in again.stdout
    assert json.loads((repo / "baseline.json").read_text())["segmill_baseline"] == 1
