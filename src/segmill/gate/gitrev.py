"""Read the version of a path at a git revision, without touching the working tree.

``segmill gate data/instances.json --base-rev origin/main`` compares the
working copy of ``data/instances.json`` with the same path at
``origin/main``. The old version is materialized in a temporary folder with
``git show`` (a file) or ``git archive`` (a folder) — commands that only read
the object database: no checkout, no index change, no stash.

The path may be a file or a folder anywhere inside the repository, given
relative to the current folder or absolute; it is looked up at the revision
by its path relative to the repository root. The temporary copy keeps that
relative layout (``<tmp>/data/instances.json``), so a reader that resolves
sibling files finds the ones committed beside it in a folder checkout.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Iterator

from ..errors import InputError


def _git(args: list[str], cwd: Path, *, binary: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, env=env, check=False,
                              text=not binary)
    except FileNotFoundError:
        raise InputError("git is not installed (needed for --base-rev)") from None


def _err(proc) -> str:
    err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode("utf-8", "replace")
    return err.strip().splitlines()[-1] if err.strip() else f"git exited with {proc.returncode}"


def repo_relative(path) -> tuple[Path, str]:
    """``(repository root, path relative to it in POSIX form)`` for a path inside a git work tree.

    Raises
    ------
    segmill.errors.InputError
        When the path is not inside a git repository.
    """
    p = Path(path).absolute()
    probe = p if p.is_dir() else p.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    proc = _git(["rev-parse", "--show-toplevel"], probe)
    if proc.returncode != 0:
        raise InputError(f"not inside a git repository, so --base-rev cannot be used ({_err(proc)})", path)
    root = Path(proc.stdout.strip()).resolve()
    real = p.parent.resolve() / p.name if p.name else p.resolve()
    try:
        rel = real.relative_to(root)
    except ValueError:
        raise InputError(f"the path is outside the git repository at {root}", path) from None
    return root, PurePosixPath(*rel.parts).as_posix() if rel.parts else "."


def _object_type(root: Path, rev: str, rel: str) -> str:
    proc = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    if proc.returncode != 0:
        raise InputError(f"unknown git revision {rev!r}", root)
    spec = f"{rev}:{rel}" if rel != "." else f"{rev}^{{tree}}"
    proc = _git(["cat-file", "-t", spec], root)
    if proc.returncode != 0:
        raise InputError(f"the path did not exist at revision {rev!r}", rel)
    return proc.stdout.strip()


def _extract_tar(data: bytes, dest: Path) -> None:
    dest_real = dest.resolve()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            target = (dest / m.name).resolve()
            if target != dest_real and dest_real not in target.parents:
                raise InputError(f"git archive member escapes the target folder: {m.name!r}")
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                with open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            # symlinks and other special members are not materialized: a dataset
            # read through a link that points outside the snapshot would read the
            # working tree, not the revision.


@contextlib.contextmanager
def checkout_path(path, rev: str) -> Iterator[Path]:
    """Yield a temporary copy of ``path`` as it was at git revision ``rev``.

    Parameters
    ----------
    path : str or os.PathLike
        A file or folder inside a git work tree (it need not exist now).
    rev : str
        Any revision git understands (``HEAD~1``, ``origin/main``, a sha).

    Yields
    ------
    pathlib.Path
        The copy (a file or a folder, like the original); deleted on exit.

    Raises
    ------
    segmill.errors.InputError
        Not in a git repository, unknown revision, or the path did not exist
        at that revision.
    """
    root, rel = repo_relative(path)
    kind = _object_type(root, rev, rel)
    tmp = Path(tempfile.mkdtemp(prefix="segmill-base-"))
    try:
        dest = tmp / rel if rel != "." else tmp / "root"
        if kind == "blob":
            proc = _git(["show", f"{rev}:{rel}"], root, binary=True)
            if proc.returncode != 0:
                raise InputError(f"git show failed: {_err(proc)}", rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(proc.stdout)
        elif kind == "tree":
            args = ["archive", "--format=tar", rev] + ([rel] if rel != "." else [])
            proc = _git(args, root, binary=True)
            if proc.returncode != 0:
                raise InputError(f"git archive failed: {_err(proc)}", rel)
            target = tmp if rel != "." else dest
            target.mkdir(parents=True, exist_ok=True)
            _extract_tar(proc.stdout, target)
            dest.mkdir(parents=True, exist_ok=True)
        else:
            raise InputError(f"the path is a git {kind} at revision {rev!r}, not a file or folder", rel)
        yield dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
