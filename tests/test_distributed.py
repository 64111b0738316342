"""Sharded runs (``--workers``) on a dask LocalCluster of 2 processes equal the single-process runs."""

from __future__ import annotations

import builtins
import itertools
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import segmill
from segmill import io
from segmill._info import summarize_stream
from segmill.agree import compare, report_json
from segmill.agree.settings import AgreeSettings
from segmill.check import check_path, render
from segmill.cli import main
from segmill.errors import InputError
from segmill.synth import coco_dict

pytest.importorskip("distributed", reason="sharded runs need dask[distributed] (the segmill[dask] extra)")

from segmill.distributed import (
    AgreeSources,
    PositionRange,
    check_sharded,
    connect,
    measure_sharded,
    plan,
    read_sharded,
    summarize_sharded,
)

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"


@pytest.fixture(scope="module")
def client():
    with connect(2) as c:
        yield c


@pytest.fixture(scope="module")
def data(tmp_path_factory, sa1b_tars):
    """Generated inputs: SA-1B-like tar shards (3 tars), a COCO file of 40 images."""
    base = tmp_path_factory.mktemp("sharded")
    sa = sa1b_tars(base / "sa1b", 3, 4)
    coco = base / "coco.json"
    coco.write_text(json.dumps(coco_dict(40, seed=3)))
    labelme = base / "labelme"  # 40 JSON files: a format cut into runs of files
    segmill.write(segmill.read(coco), labelme, "labelme")
    return {"sa1b": sa, "coco": coco, "base": base, "labelme": labelme}


def _inputs(data):
    return [(data["sa1b"], "sa1b"), (data["coco"], "coco"), (FIX / "coco" / "annotations.json", "coco"),
            (FIX / "labelme" / "basic", "labelme"), (FIX / "voc", "voc"), (FIX / "sa1b", "sa1b"),
            (FIX / "yolo" / "seg", "yolo"), (data["labelme"], "labelme")]


def test_plan_covers_every_input_once(data):
    shards = plan(data["sa1b"], "sa1b", {}, 2)
    assert [s.index for s in shards] == list(range(len(shards))) and len(shards) == 3  # one tar each, at most 8
    assert shards[0].selection["start"] == 0 and shards[-1].selection["stop"] == 3
    assert all(a.selection["stop"] == b.selection["start"] for a, b in itertools.pairwise(shards))
    coco = plan(data["coco"], "coco", {}, 2)
    assert [s.selection for s in coco] == [PositionRange(0, 2), PositionRange(1, 2)]
    assert [PositionRange(k, 3).bounds(10) for k in range(3)] == [(0, 3), (3, 6), (6, 10)]


def test_info_sharded_equals_single_process(client, data):
    for path, fmt in _inputs(data):
        whole = summarize_stream(segmill.stream(path, fmt))
        sharded, header = summarize_sharded(client, path, fmt, {}, 2)
        assert sharded == whole, path
        assert header.categories == segmill.stream(path, fmt).header.categories


def test_read_sharded_numbers_annotations_as_the_whole_read(client, data):
    whole = segmill.read(data["sa1b"], "sa1b")
    sharded = read_sharded(client, data["sa1b"], "sa1b", {}, 2)
    ids = [a.id for it in sharded.items for a in it.annotations]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > 20
    assert sharded.items == whole.items and sharded.categories == whole.categories


@pytest.mark.parametrize("case", [("coco", "coco", "out.json"), ("sa1b", "coco", "out.json"),
                                  ("labelme", "voc", "voc_out"), ("labelme", "coco", "out.json"),
                                  ("yolo", "coco", "out.json"), ("yolo", "labelme", "lm_out")])
def test_convert_cli_sharded_output_equals_single_process_byte_for_byte(case, data, tmp_path, client):
    src_key, to, name = case
    # one case starts its own LocalCluster (--workers); the others use the module's (--scheduler), as on a cluster
    sharded = ["--workers", "2"] if src_key == "sa1b" else ["--scheduler", client.scheduler.address]
    src = {"coco": data["coco"], "sa1b": data["sa1b"], "labelme": data["labelme"],
           "yolo": FIX / "yolo" / "seg"}[src_key]
    outs, reports = [], []
    for extra, tag in (([], "one"), (sharded, "two")):
        dst = tmp_path / tag / name
        dst.parent.mkdir()
        r = CliRunner().invoke(main, ["convert", str(src), str(dst), "--to", to, "--json", "-q", *extra])
        assert r.exit_code == 0, r.output
        rep = json.loads(r.stdout)
        rep["path"] = name
        reports.append(rep)
        outs.append({p.relative_to(dst.parent).as_posix(): p.read_bytes()
                     for p in sorted(dst.parent.rglob("*")) if p.is_file()})
    assert outs[0] == outs[1] and outs[0]
    assert reports[0] == reports[1]


def test_convert_with_losses_reports_the_same_losses(client, data, tmp_path):
    from segmill.distributed import convert_sharded

    a = io.convert(data["coco"], tmp_path / "a", "coco", "yolo")
    b = convert_sharded(client, 2, data["coco"], tmp_path / "b", "coco", "yolo")
    assert a.losses and [str(x) for x in a.losses] == [str(x) for x in b.losses]
    assert a.summary() == b.summary()
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_check_sharded_report_equals_single_process(client, data):
    cases = [*_inputs(data), (FIX / "defects" / "annotations.json", "coco")]
    total = 0
    for path, fmt in cases:
        whole = render(check_path(path, format=fmt), "json")
        sharded = render(check_sharded(client, 2, path, format=fmt), "json")
        assert sharded == whole, path
        total += len(json.loads(whole)["findings"])
    assert total > 20  # the defects fixture alone trips most rules


def test_check_sharded_spills_the_skeletons_of_a_formats_own_parts(client, data, monkeypatch):
    from segmill.distributed import check as dcheck
    from segmill.spilled import SpilledItems

    seen = []
    real = dcheck.assemble

    def spy(cfg, rules, codes, driver, parts, skeletons, paths):
        seen.append(type(skeletons[0][0].items))
        return real(cfg, rules, codes, driver, parts, skeletons, paths)

    monkeypatch.setattr(dcheck, "assemble", spy)
    got = check_sharded(client, 2, data["sa1b"], format="sa1b")
    assert seen == [SpilledItems] and got.images == 12
    assert render(got, "json") == render(check_path(data["sa1b"], format="sa1b"), "json")


def test_results_in_order_come_in_shard_order_and_raise_the_first_failure_in_order(client):
    import time

    from segmill.distributed.shards import results_in_order

    def task(k):
        if k == 3:
            raise ValueError("three")  # fails first in time
        if k == 1:
            time.sleep(0.5)
            raise ValueError("one")  # fails first in order
        return k * 10

    with pytest.raises(ValueError, match="one"):
        list(results_in_order(client, task, [0, 1, 2, 3]))
    assert list(results_in_order(client, task, [0, 2, 4, 5])) == [0, 20, 40, 50]


def test_check_sharded_several_files_every_rule(client):
    from segmill.check.config import Config

    paths = [FIX / "defects" / "annotations.json", FIX / "defects" / "val.json"]
    whole = check_path(paths, select=["ALL"])
    sharded = check_sharded(client, 2, paths, config=Config(select=["ALL"]))
    assert render(sharded, "json") == render(whole, "json")
    assert {"C008", "S001", "G005"} <= {f.code for f in whole.findings}  # driver rules with and without geometry


def test_agree_sharded_report_equals_single_process(client):
    paths = [FIX / "agree" / "ann_a.json", FIX / "agree" / "ann_b.json", FIX / "agree" / "ann_c"]
    loaded = [segmill.read(p) for p in paths]
    settings = AgreeSettings()
    whole = report_json.render(compare(loaded, None, settings))
    sources = AgreeSources(tuple(map(str, paths)), (None, None, None))
    sharded = report_json.render(measure_sharded(client, 2, loaded, None, settings, sources))
    assert sharded == whole and json.loads(whole)["images"]


def test_agree_cli_on_a_scheduler_equals_single_process(client):
    args = ["agree", str(FIX / "agree" / "ann_a.json"), str(FIX / "agree" / "ann_b.json"), "--output-format", "json"]
    one = CliRunner().invoke(main, args)
    two = CliRunner().invoke(main, [*args, "--scheduler", client.scheduler.address])
    assert one.exit_code == two.exit_code == 0, two.output
    assert one.stdout == two.stdout


def test_check_cli_from_the_environment_same_report_and_exit_code(client, monkeypatch):
    args = ["check", str(FIX / "defects" / "annotations.json"), "--output-format", "json"]
    one = CliRunner().invoke(main, args)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", client.scheduler.address)
    two = CliRunner().invoke(main, args)
    assert one.exit_code == two.exit_code == 1
    assert one.stdout == two.stdout


def test_check_sharded_reads_a_formats_own_strict_parts_and_falls_back_on_a_refused_record(client, data, tmp_path,
                                                                                           monkeypatch):
    from segmill.distributed import check as dcheck

    planned = []
    real = dcheck._checked_path

    def spy(client, shards, *args):
        planned.append([(s.options.get("errors"), s.by_position) for s in shards])
        return real(client, shards, *args)

    monkeypatch.setattr(dcheck, "_checked_path", spy)
    folder = tmp_path / "lm"
    shutil.copytree(data["labelme"], folder)
    whole = render(check_path(folder, format="labelme"), "json")
    assert render(check_sharded(client, 2, folder, format="labelme"), "json") == whole
    assert len(planned[0]) > 2 and set(planned[0]) == {("raise", False)}  # runs of files, read strictly
    # a shape the strict read refuses: checked again from the lenient read (by position), which keeps it as
    # invalid geometry (a finding)
    bad = sorted(folder.glob("*.json"))[25]
    doc = json.loads(bad.read_text())
    doc["shapes"][0]["points"] = "not points"
    bad.write_text(json.dumps(doc))
    planned.clear()
    whole = check_path(folder, format="labelme")
    assert "G010" in {f.code for f in whole.findings}  # the shape kept as invalid geometry
    with pytest.raises(InputError):
        segmill.read(folder, "labelme")
    assert render(check_sharded(client, 2, folder, format="labelme"), "json") == render(whole, "json")
    assert [set(p) for p in planned] == [{("keep", True)}]  # the strict parts failed (counting them)


def test_check_sharded_of_coco_parts_read_strictly_equals_single_process(client, data, monkeypatch):
    from segmill.formats import coco

    monkeypatch.setattr(coco, "STREAM_BYTES", 0)  # the driver plans runs of images for these small files
    for path in (data["coco"], FIX / "defects" / "annotations.json", FIX / "coco" / "annotations.json"):
        whole = render(check_path(path, format="coco"), "json")
        # the defects fixture holds what the index cannot vouch for (read whole, cut by position)
        assert plan(path, "coco", {}, 2)[0].by_position == (path.parent.name == "defects")
        assert render(check_sharded(client, 2, path, format="coco"), "json") == whole, path


def test_check_sharded_reports_a_repeated_image_id_inside_one_part(client, tmp_path):
    folder = tmp_path / "sa"
    shutil.copytree(FIX / "sa1b", folder)
    doc = json.loads((folder / "sa_1.json").read_text())
    (folder / "sa_10.json").write_text(json.dumps(doc))  # same image id, read right after sa_1.json
    whole = check_path(folder, format="sa1b")
    assert "S001" in {f.code for f in whole.findings}
    assert render(check_sharded(client, 1, folder, format="sa1b"), "json") == render(whole, "json")
    assert render(check_sharded(client, 2, folder, format="sa1b"), "json") == render(whole, "json")


def test_first_bad_record_is_the_single_process_error(client, data, tmp_path):
    folder = tmp_path / "sa"
    shutil.copytree(FIX / "sa1b", folder)
    (folder / "sa_3.json").write_text('{"image": {"image_id": 3}, "annotations": [')  # broken JSON
    (folder / "sa_4.json").write_text("[1]")  # later in order: never the one reported
    with pytest.raises(InputError) as whole:
        segmill.read(folder, "sa1b")
    with pytest.raises(InputError) as sharded:
        read_sharded(client, folder, "sa1b", {}, 2)
    assert str(sharded.value) == str(whole.value) and "sa_3.json" in str(whole.value)


def test_skipped_records_are_merged_in_order(client, tmp_path):
    folder = tmp_path / "sa"
    shutil.copytree(FIX / "sa1b", folder)
    (folder / "sa_0.json").write_text('{"image": 1, "annotations": []}')
    (folder / "sa_3.json").write_text('{"image": 2, "annotations": []}')
    whole = segmill.read(folder, "sa1b", errors="skip")
    sharded = read_sharded(client, folder, "sa1b", {"errors": "skip"}, 2)
    assert len(whole.meta["skipped"]) == 2 and sharded.meta["skipped"] == whole.meta["skipped"]
    assert sharded.items == whole.items


def test_workers_without_dask_is_a_usage_error_naming_the_extra(monkeypatch):
    real = builtins.__import__

    def no_distributed(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (name == "distributed" or name.startswith("distributed.")):
            raise ImportError("No module named 'distributed'")
        return real(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    for cmd in (["info"], ["check"], ["convert", "-q"]):
        extra = [] if cmd[0] != "convert" else ["/nonexistent-dir/out.json"]
        r = CliRunner().invoke(main, [*cmd, str(FIX / "coco" / "annotations.json"), *extra, "--workers", "2"])
        assert r.exit_code == 2, (cmd, r.output)
        assert "pip install 'segmill[dask]'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    ok = CliRunner().invoke(main, ["info", str(FIX / "coco" / "annotations.json")])
    assert ok.exit_code == 0


def test_workers_and_scheduler_together_are_refused():
    r = CliRunner().invoke(main, ["info", str(FIX / "coco" / "annotations.json"), "--workers", "2",
                                  "--scheduler", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "not both" in r.output


def test_local_workers_start_without_the_malloc_trim_threshold(monkeypatch):
    # set at all, it fixes glibc's mmap threshold: every mask-sized array is mapped and faulted in afresh
    from segmill.distributed.cluster import UNTRIMMED

    monkeypatch.delenv(UNTRIMMED, raising=False)  # an earlier LocalCluster in this process may have set it
    with connect(1) as c:
        assert set(c.run(os.getenv, UNTRIMMED).values()) == {None}
        assert set(c.run(os.getenv, "OMP_NUM_THREADS").values()) == {"1"}  # dask's other settings kept
    monkeypatch.setenv(UNTRIMMED, "131072")  # the user's own choice wins
    with connect(1) as c:
        assert set(c.run(os.getenv, UNTRIMMED).values()) == {"131072"}



def test_a_local_cluster_drops_what_only_a_watcher_needs():
    # the profiler and 20 ms ticks cost CPU that nobody looks at; results come straight from the workers
    import dask

    with connect(1) as c:
        assert set(c.run(dask.config.get, "distributed.worker.profile.enabled").values()) == {False}
        assert set(c.run(lambda dask_worker: dask_worker._tick_interval).values()) == {0.5}
        assert c.direct_to_workers is True
