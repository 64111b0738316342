"""Remote storage through fsspec (segmill.remote): memory:// round trips, refusals, and an S3 server.

The memory filesystem is fsspec's own, shared by the process, so the CLI run
through click's runner sees what a test puts there. The S3 tests start moto's
server on the loopback address and talk to it through s3fs.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import segmill
import segmill.remote
from segmill.cli import main
from segmill.errors import InputError, LimitError, LossError, OutputError, UsageError

fsspec = pytest.importorskip("fsspec", reason="remote paths need fsspec (the cloud extra)")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
COCO = FIXTURES / "coco" / "annotations.json"


@pytest.fixture
def mem():
    """fsspec's memory filesystem, emptied before and after the test."""
    fs = fsspec.filesystem("memory")

    def clear():
        fs.store.clear()
        fs.pseudo_dirs[:] = [""]

    clear()
    yield fs
    clear()


@pytest.fixture
def tmp_root(tmp_path, monkeypatch):
    """Temporary folders (the remote copies and staged uploads) go here, so a test sees what is left."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def leftovers(root: Path) -> list:
    return sorted(p.name for p in root.iterdir())


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def files_of(fs, root: str) -> dict:
    """``{relative name: bytes}`` of every object under ``root`` of ``fs``."""
    return {p[len(root) + 1:]: fs.cat_file(p) for p in fs.find(root)}


def local_files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --- what a URL is ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, remote", [
    ("s3://b/k.json", True), ("gs://b/k", True), ("az://c/p", True), ("https://h/x.json", True),
    ("memory://x", True), ("file:///tmp/x", True), ("MEMORY://x", True),
    ("data/coco.json", False), ("/abs/coco.json", False), ("C:\\data\\coco.json", False),
    ("C://data/coco.json", False),
    (Path("memory://x"), False),
])
def test_is_remote(path, remote):
    assert segmill.remote.is_remote(path) is remote


@pytest.mark.parametrize("text, shown", [
    ("https://user:secret@host/x.json", "https://host/x.json"),
    ("https://token@host/x.json", "https://host/x.json"),
    ("s3://key:secret@bucket/x", "s3://bucket/x"),
    ("abfs://container@account.dfs.core.windows.net/x", "abfs://container@account.dfs.core.windows.net/x"),
])
def test_redact_drops_credentials(text, shown):
    assert segmill.remote.redact(text) == shown


@pytest.mark.parametrize("name", ["../evil.json", "a/../../b", "/abs.json", "a\\b.json", "a//b", "./x", "a/.",
                                  "x" * 256, "nul\0"])
def test_check_name_refuses_escaping_names(name):
    with pytest.raises(InputError, match="segmill copies only names that stay inside"):
        segmill.remote.check_name(name, "memory://src/ds")


@pytest.mark.parametrize("name", ["a.json", "Annotations/a.xml", "deep/er/x.png", ".hidden", "a..b"])
def test_check_name_accepts_plain_names(name):
    segmill.remote.check_name(name, "memory://src/ds")


# --- memory:// round trips ------------------------------------------------------------------------------------

def test_read_equals_local_read(mem, tmp_path, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")
    remote = segmill.read("memory://src/coco.json")
    assert remote.meta["source_path"] == "memory://src/coco.json"
    segmill.write(remote, tmp_path / "from_remote.json", "coco")
    segmill.write(segmill.read(COCO), tmp_path / "from_local.json", "coco")
    assert (tmp_path / "from_remote.json").read_bytes() == (tmp_path / "from_local.json").read_bytes()
    assert leftovers(tmp_root) == []  # the local copy is gone


def test_write_file_is_the_local_output(mem, tmp_path, tmp_root):
    ds = segmill.read(COCO)
    report = segmill.write(ds, "memory://dst/out.json", "coco")
    segmill.write(ds, tmp_path / "out.json", "coco")
    assert report.path == "memory://dst/out.json"
    assert mem.cat_file("/dst/out.json") == (tmp_path / "out.json").read_bytes()
    assert not mem.exists("/dst/.segmill-complete")  # a file output is one object, no marker
    assert leftovers(tmp_root) == []


def test_convert_folder_round_trip(mem, tmp_path, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")
    segmill.convert("memory://src/coco.json", "memory://dst/voc", to_format="voc")
    segmill.convert(COCO, tmp_path / "voc", to_format="voc")
    remote = files_of(mem, "/dst/voc")
    marker = json.loads(remote.pop(".segmill-complete"))
    local = local_files(tmp_path / "voc")
    assert remote == local and len(local) > 5
    assert marker["format"] == "voc" and marker["complete"] is True
    assert {o["path"]: o["size"] for o in marker["objects"]} == {k: len(v) for k, v in local.items()}
    back = segmill.read("memory://dst/voc")
    assert [i.id for i in back.items] == [i.id for i in segmill.read(tmp_path / "voc").items]
    assert leftovers(tmp_root) == []


def test_split_pattern_uploads_one_output_per_split(mem, tmp_root):
    import dataclasses

    ds = segmill.read(COCO)
    ds.items = [dataclasses.replace(it, split="train" if i % 2 else "val") for i, it in enumerate(ds.items)]
    report = segmill.write(ds, "memory://dst/inst_{split}.json", "coco")
    names = sorted(p.rpartition("/")[2] for p in mem.find("/dst"))
    assert names == ["inst_train.json", "inst_val.json"]
    assert all("memory://dst/inst_" in n for n in report.notes if "one output per split" in n)
    assert leftovers(tmp_root) == []


def test_stream_removes_its_copy_after_the_items(mem, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")
    st = segmill.stream("memory://src/coco.json")
    assert st.header.meta["source_path"] == "memory://src/coco.json"
    assert len(leftovers(tmp_root)) == 1  # the copy lives while the items are read
    assert len(list(st)) == 3
    assert leftovers(tmp_root) == []


def test_a_remote_stream_gives_what_a_remote_read_does(mem, tmp_path, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")
    segmill.write(segmill.stream("memory://src/coco.json").to_dataset(), tmp_path / "streamed.json", "coco")
    segmill.write(segmill.read(COCO), tmp_path / "read.json", "coco")
    assert (tmp_path / "streamed.json").read_bytes() == (tmp_path / "read.json").read_bytes()
    assert leftovers(tmp_root) == []


def test_a_stream_dropped_early_removes_its_copy(mem, tmp_root):
    import gc

    mem.put_file(str(COCO), "/src/coco.json")
    st = segmill.stream("memory://src/coco.json")
    it = iter(st)
    next(it)
    assert len(leftovers(tmp_root)) == 1
    del st, it
    gc.collect()
    assert leftovers(tmp_root) == []


def test_strict_loss_uploads_nothing(mem, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")
    with pytest.raises(LossError):
        segmill.convert("memory://src/coco.json", "memory://dst/voc", to_format="voc", strict=True)
    assert not mem.exists("/dst/voc") and mem.find("/dst") == []
    assert leftovers(tmp_root) == []


def test_file_url_is_a_local_path(tmp_path):
    ds = segmill.read(COCO.as_uri())
    assert len(ds.items) == len(segmill.read(COCO).items)
    segmill.write(ds, (tmp_path / "x.json").as_uri(), "coco")
    assert (tmp_path / "x.json").is_file()


# --- the CLI -----------------------------------------------------------------------------------------------------

def test_cli_convert_then_info(mem, tmp_path, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")
    res = run("convert", "memory://src/coco.json", "memory://dst/out", "--to", "voc")
    assert res.exit_code == 0, res.output
    assert "wrote voc to memory://dst/out" in res.output
    assert run("convert", COCO, tmp_path / "out", "--to", "voc").exit_code == 0
    remote = json.loads(run("info", "memory://dst/out", "--json").output)
    local = json.loads(run("info", tmp_path / "out", "--json").output)
    assert remote.pop("path") == "memory://dst/out"
    local.pop("path")
    assert remote == local and remote["format"] == "voc"
    assert leftovers(tmp_root) == []


def test_cli_copies_a_remote_source_once(mem, monkeypatch):
    from segmill.remote import _download

    mem.put_file(str(COCO), "/src/coco.json")
    calls = []
    real = _download.fetch
    monkeypatch.setattr(_download, "fetch", lambda *a: calls.append(a[0]) or real(*a))
    assert run("convert", "memory://src/coco.json", "memory://dst/out.json").exit_code == 0
    assert calls == ["memory://src/coco.json"]  # detected and read from one copy


def test_cli_bad_remote_input_writes_nothing(mem, tmp_root):
    mem.pipe_file("/src/bad.json", b'{"images": [{"id": 1, "file_name": "a.png", "width": -3}')
    res = run("convert", "memory://src/bad.json", "memory://dst/out.json", "--from", "coco")
    assert res.exit_code == 2
    assert res.output.startswith("segmill: error: memory://src/bad.json")
    assert str(tmp_root) not in res.output and "Traceback" not in res.output
    assert not mem.exists("/dst/out.json")
    assert leftovers(tmp_root) == []


def test_cli_missing_remote_path(mem):
    res = run("info", "memory://nothing/here.json")
    assert res.exit_code == 2
    assert "memory://nothing/here.json: no such file or directory" in res.output


# --- failures while uploading --------------------------------------------------------------------------------------

def test_failed_upload_leaves_nothing(mem, monkeypatch, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")

    def broken(self, path, value, **kwargs):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(type(mem), "pipe_file", broken)  # the marker, written last, fails
    with pytest.raises(OutputError, match=r"cannot write memory://dst/voc: ConnectionResetError"):
        segmill.convert("memory://src/coco.json", "memory://dst/voc", to_format="voc")
    assert mem.find("/dst") == []
    assert mem.exists("/src/coco.json")
    assert leftovers(tmp_root) == []


def test_cli_failed_upload_exit_2_one_line(mem, monkeypatch):
    mem.put_file(str(COCO), "/src/coco.json")
    monkeypatch.setattr(type(mem), "put_file", lambda *a, **k: (_ for _ in ()).throw(PermissionError("denied")))
    res = run("convert", "memory://src/coco.json", "memory://dst/out.json")
    assert res.exit_code == 2
    assert res.output.strip() == "segmill: error: cannot write memory://dst/out.json: PermissionError: denied"


# --- destination rules ---------------------------------------------------------------------------------------------

def test_existing_destination_needs_force(mem):
    mem.put_file(str(COCO), "/src/coco.json")
    segmill.convert("memory://src/coco.json", "memory://dst/voc", to_format="voc")
    before = files_of(mem, "/dst/voc")
    with pytest.raises(InputError, match="output already exists; use force=True"):
        segmill.convert("memory://src/coco.json", "memory://dst/voc", to_format="voc")
    res = run("convert", "memory://src/coco.json", "memory://dst/voc", "--to", "voc")
    assert res.exit_code == 2 and "use --force" in res.output
    assert files_of(mem, "/dst/voc") == before


def test_force_replaces_a_previous_output_wholly(mem):
    mem.put_file(str(COCO), "/src/coco.json")
    segmill.convert("memory://src/coco.json", "memory://dst/voc", to_format="voc")
    before = files_of(mem, "/dst/voc")
    mem.pipe_file("/dst/voc/stale.txt", b"from an older run")
    res = run("convert", "memory://src/coco.json", "memory://dst/voc", "--to", "voc", "--force")
    assert res.exit_code == 0, res.output
    assert files_of(mem, "/dst/voc") == before  # stale.txt went with the old output


def test_force_refuses_a_folder_segmill_did_not_write(mem):
    mem.put_file(str(COCO), "/src/coco.json")
    mem.pipe_file("/dst/photos/holiday.jpg", b"not mine")
    res = run("convert", "memory://src/coco.json", "memory://dst/photos", "--to", "voc", "--force")
    assert res.exit_code == 2 and "holds no segmill marker" in res.output
    assert files_of(mem, "/dst/photos") == {"holiday.jpg": b"not mine"}


def test_force_refuses_a_marker_of_another_format(mem):
    mem.put_file(str(COCO), "/src/coco.json")
    segmill.convert("memory://src/coco.json", "memory://dst/out", to_format="voc")
    with pytest.raises(InputError, match="holds no segmill marker .* naming a cityscapes output"):
        segmill.convert("memory://src/coco.json", "memory://dst/out", to_format="cityscapes", force=True)


def test_force_on_files(mem):
    mem.put_file(str(COCO), "/src/coco.json")
    mem.put_file(str(COCO), "/dst/prev.json")
    mem.pipe_file("/dst/notes.json", b"my notes")
    segmill.convert("memory://src/coco.json", "memory://dst/prev.json", force=True)  # a COCO file: replaced
    with pytest.raises(InputError, match="not empty and is not a coco output"):
        segmill.convert("memory://src/coco.json", "memory://dst/notes.json", force=True)
    assert mem.cat_file("/dst/notes.json") == b"my notes"
    with pytest.raises(InputError, match="never replaces a file by a folder"):
        segmill.convert("memory://src/coco.json", "memory://dst/prev.json", to_format="voc", force=True)


@pytest.mark.parametrize("dst, why", [
    ("memory://src/coco.json", "the destination is the source"),
    ("memory://src", "contains the source"),
    ("memory://src/coco.json/x", "lies inside the source"),
])
def test_never_writes_over_a_remote_source(mem, dst, why):
    mem.put_file(str(COCO), "/src/coco.json")
    with pytest.raises(InputError, match=why):
        segmill.convert("memory://src/coco.json", dst, to_format="coco", force=True)
    assert mem.cat_file("/src/coco.json") == COCO.read_bytes()


def test_http_is_read_only():
    with pytest.raises(UsageError, match="does not write"):
        segmill.write(segmill.read(COCO), "https://example.org/out.json", "coco")


# --- names, budget, missing packages -----------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["../evil.json", "a\\b.json", "/abs.json", "./x.json"])
def test_escaping_remote_names_are_refused(mem, tmp_root, key):
    mem.put_file(str(COCO), "/src/ds/good.json")
    mem.pipe_file("/src/ds/" + key, b"{}")
    with pytest.raises(InputError, match="memory://src/ds: the store lists .*segmill copies only names"):
        segmill.read("memory://src/ds", format="labelme")
    res = run("info", "memory://src/ds")
    assert res.exit_code == 2 and "segmill copies only names" in res.output
    assert leftovers(tmp_root) == []


def test_copy_budget(mem, monkeypatch, tmp_root):
    mem.put_file(str(COCO), "/src/coco.json")
    monkeypatch.setenv("SEGMILL_REMOTE_MAX_BYTES", "100")
    with pytest.raises(LimitError, match=r"needs \d+ bytes, over the budget of 100 bytes"):
        segmill.read("memory://src/coco.json")
    monkeypatch.setenv("SEGMILL_REMOTE_MAX_BYTES", "lots")
    with pytest.raises(UsageError, match="SEGMILL_REMOTE_MAX_BYTES"):
        segmill.read("memory://src/coco.json")
    assert leftovers(tmp_root) == []


def test_unknown_scheme_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown storage scheme 'ftpx'"):
        segmill.read("ftpx://host/x.json")
    res = run("info", "ftpx://host/x.json")
    assert res.exit_code == 2 and "unknown storage scheme" in res.output


def test_missing_fsspec_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    with pytest.raises(UsageError, match=r"need fsspec: pip install 'segmill\[cloud\]'"):
        segmill.read("memory://src/coco.json")


def test_missing_store_package_names_the_extra(monkeypatch):
    from fsspec import registry

    if "gs" in registry:
        pytest.skip("gcsfs is already imported and registered in this process")
    monkeypatch.setitem(sys.modules, "gcsfs", None)
    res = run("info", "gs://bucket/coco.json")
    assert res.exit_code == 2
    assert "gs:// needs the gcsfs package: pip install 'segmill[cloud]'" in res.output


def test_progress_on_a_long_copy(mem, monkeypatch):
    from segmill import _progress
    from segmill.remote import local_copy

    for i in range(40):
        mem.pipe_file(f"/src/many/f{i:02}.txt", b"x")

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    _progress.enable(True)
    try:
        with local_copy("memory://src/many") as local:
            assert len(list(local.iterdir())) == 40
    finally:
        _progress.enable(False)
    assert "copying memory://src/many" in err.getvalue() and "40/40" in err.getvalue()


# --- a web server ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def http_root():
    """``python -m http.server`` on 127.0.0.1 serving fixtures/; its base URL. Stopped at the end."""
    pytest.importorskip("aiohttp", reason="http:// needs aiohttp (the cloud extra)")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=FIXTURES,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_http_file_and_folder(http_root):
    remote = json.loads(run("info", f"{http_root}/voc/", "--json").output)
    local = json.loads(run("info", FIXTURES / "voc", "--json").output)
    remote.pop("path"), local.pop("path")
    assert remote == local and remote["format"] == "voc"
    assert len(segmill.read(f"{http_root}/coco/annotations.json").items) == len(segmill.read(COCO).items)
    res = run("info", f"{http_root}/no/such.json")
    assert res.exit_code == 2 and f"cannot read {http_root}/no/such.json: no such file" in res.output


# --- an S3 server (moto) -----------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, proc, log=None) -> None:
    """Return once ``proc`` listens on ``port``; skip (with its log) if it exits or never does."""
    for _ in range(150):
        if proc.poll() is not None:
            err = ""
            if log is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")[-300:]
            pytest.skip(f"the server exited with code {proc.returncode}: {err}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.skip("the server did not listen within 15 s")


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on 127.0.0.1 and the storage options that reach it; killed at the end."""
    s3fs = pytest.importorskip("s3fs", reason="s3fs (the cloud extra) is not installed")
    pytest.importorskip("moto.server", reason="moto's server mode (moto[server], the test extra) is not installed")
    port = _free_port()
    # a file, not a pipe: the server logs every request, and a full pipe would block it
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_for(port, proc, log)
        opts = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing"}
        fs = s3fs.S3FileSystem(**opts)
        fs.mkdir("segmill-test")
        fs.put_file(str(COCO), "segmill-test/src/coco.json")
        yield fs, opts
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _cli_env(opts: dict, endpoint: str | None = None) -> dict:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", FSSPEC_S3_ENDPOINT_URL=endpoint or opts["endpoint_url"])
    env["FSSPEC_S3"] = json.dumps({"config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2}})
    return env


def _segmill(*args, env):
    return subprocess.run([sys.executable, "-m", "segmill", *map(str, args)], check=False, env=env, capture_output=True,
                          text=True, timeout=120)


def test_s3_library_round_trip(s3, tmp_path):
    fs, opts = s3
    ds = segmill.read("s3://segmill-test/src/coco.json", storage_options=opts)
    segmill.write(ds, "s3://segmill-test/lib/voc", "voc", storage_options=opts)
    segmill.convert(COCO, tmp_path / "voc", to_format="voc")
    remote = {p.split("/lib/voc/", 1)[1]: fs.cat_file(p) for p in fs.find("segmill-test/lib/voc")}
    assert json.loads(remote.pop(".segmill-complete"))["format"] == "voc"
    assert remote == local_files(tmp_path / "voc")
    back = segmill.read("s3://segmill-test/lib/voc", storage_options=opts)
    assert len(back.items) == len(ds.items)


def test_s3_cli(s3, tmp_path):
    fs, opts = s3
    env = _cli_env(opts)
    res = _segmill("convert", "s3://segmill-test/src/coco.json", "s3://segmill-test/cli/out.json", "-q", env=env)
    assert res.returncode == 0, res.stderr
    segmill.convert(COCO, tmp_path / "out.json")
    assert fs.cat_file("segmill-test/cli/out.json") == (tmp_path / "out.json").read_bytes()
    res = _segmill("info", "s3://segmill-test/cli/out.json", env=env)
    assert res.returncode == 0 and "format: coco" in res.stdout
    res = _segmill("convert", "s3://segmill-test/src/coco.json", "s3://segmill-test/cli/out.json", env=env)
    assert res.returncode == 2 and "output already exists" in res.stderr


def test_s3_unreachable_is_exit_2_with_the_url(s3):
    _, opts = s3
    res = _segmill("info", "s3://segmill-test/src/coco.json", env=_cli_env(opts, f"http://127.0.0.1:{_free_port()}"))
    assert res.returncode == 2
    assert res.stderr.startswith("segmill: error: cannot read s3://segmill-test/src/coco.json: ")
    assert "Traceback" not in res.stderr and "testing" not in res.stderr


def test_cli_check_and_fix_take_urls(mem, tmp_path):
    mem.put_file(str(COCO), "/src/coco.json")
    remote = run("check", "memory://src/coco.json", "--output-format", "json")
    local = run("check", COCO, "--output-format", "json")
    assert remote.exit_code == local.exit_code
    assert json.loads(remote.output)["summary"] == json.loads(local.output)["summary"]
    assert run("check", "no/such/local.json").exit_code == 2  # a local path is still checked by click
    res = run("fix", "memory://src/coco.json", "memory://dst/fixed.json")
    assert res.exit_code == run("fix", COCO, tmp_path / "fixed.json").exit_code == 0
    assert mem.cat_file("/dst/fixed.json") == (tmp_path / "fixed.json").read_bytes()


def test_remote_items_keep_the_readers_hooks(tmp_path):
    import contextlib

    from segmill.remote import _RemoteItems

    class Items:
        def __init__(self):
            self.it = iter([1, 2])

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.it)

        def finish_dataset(self, ds):
            return "finished"

    closed = []
    stack = contextlib.ExitStack()
    stack.callback(closed.append, True)
    items = _RemoteItems(Items(), stack, "memory://x", tmp_path)
    assert items.finish_dataset(None) == "finished"  # e.g. COCO's file order, after the items
    assert list(items) == [1, 2] and closed == [True]


def test_a_report_output_given_as_a_url_is_a_usage_error_not_a_local_folder(tmp_path, monkeypatch, fixtures_dir):
    from click.testing import CliRunner

    from segmill.cli import main

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["check", str(fixtures_dir / "coco" / "annotations.json"), "-o",
                                    "s3://bucket/report.json"])
    assert res.exit_code == 2, res.output
    assert "local" in res.output
    assert not (tmp_path / "s3:").exists()
