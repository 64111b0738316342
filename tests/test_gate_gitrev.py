"""Reading a path as it was at a git revision, without touching the working tree."""

from __future__ import annotations

import subprocess

import pytest

from segmill.errors import InputError
from segmill.gate import checkout_path
from segmill.gate.gitrev import repo_relative


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def repo(tmp_path):
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.name", "segmill test")
    git(r, "config", "user.email", "test@example.invalid")
    git(r, "config", "commit.gpgsign", "false")
    (r / "data" / "sub").mkdir(parents=True)
    (r / "data" / "a.json").write_text("v1")
    (r / "data" / "sub" / "b.txt").write_text("b1")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "one")
    (r / "data" / "a.json").write_text("v2")
    (r / "data" / "sub" / "b.txt").write_text("b2")
    (r / "data" / "new.txt").write_text("new")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "two")
    return r


def test_file_at_previous_revision_has_old_content(repo):
    with checkout_path(repo / "data" / "a.json", "HEAD~1") as p:
        assert p.read_text() == "v1"
        assert p.name == "a.json"


def test_folder_at_previous_revision_is_extracted_whole(repo):
    with checkout_path(repo / "data", "HEAD~1") as p:
        assert (p / "a.json").read_text() == "v1"
        assert (p / "sub" / "b.txt").read_text() == "b1"
        assert not (p / "new.txt").exists()


def test_temporary_copy_is_removed_after_use(repo):
    with checkout_path(repo / "data" / "a.json", "HEAD~1") as p:
        pass
    assert not p.exists()


def test_working_tree_and_index_are_untouched(repo):
    (repo / "data" / "a.json").write_text("dirty")
    before = git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD")
    with checkout_path(repo / "data", "HEAD~1"):
        pass
    assert (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD")) == before
    assert (repo / "data" / "a.json").read_text() == "dirty"


def test_relative_path_from_a_subfolder_is_resolved_against_the_repo_root(repo, monkeypatch):
    monkeypatch.chdir(repo / "data")
    root, rel = repo_relative("sub/b.txt")
    assert (root, rel) == (repo.resolve(), "data/sub/b.txt")
    with checkout_path("sub/b.txt", "HEAD~1") as p:
        assert p.read_text() == "b1"


def test_path_missing_at_revision_is_a_clear_input_error(repo):
    with pytest.raises(InputError, match="did not exist at revision 'HEAD~1'"):
        with checkout_path(repo / "data" / "new.txt", "HEAD~1"):
            pass


def test_unknown_revision_is_a_clear_input_error(repo):
    with pytest.raises(InputError, match="unknown git revision 'nope'"):
        with checkout_path(repo / "data" / "a.json", "nope"):
            pass


def test_path_outside_any_repository_is_a_clear_input_error(tmp_path):
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "x.json").write_text("{}")
    with pytest.raises(InputError, match="not inside a git repository"):
        with checkout_path(outside / "x.json", "HEAD"):
            pass
