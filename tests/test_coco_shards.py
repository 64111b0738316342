"""COCO cut into runs of images (``FormatSpec.shards``): each part read alone gives its items of the whole read."""

from __future__ import annotations

import itertools
import json
import os
import random
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segmill
from segmill.distributed.shards import PositionRange, merged_meta, pack_meta, plan
from segmill.errors import InputError
from segmill.formats import _coco_stream, coco
from segmill.formats._coco_read import CocoOrder
from segmill.formats._coco_stream import CocoPart, FileOrder
from segmill.synth import coco_dict


def _dataset(n_images: int, seed: int, shuffle: bool = True) -> dict:
    """Images with 0-4 polygons each; annotations shuffled (file order is not item order)."""
    rng = random.Random(seed)
    images = [{"id": 1000 + 7 * k, "file_name": f"im{k}.jpg", "width": 64, "height": 48} for k in range(n_images)]
    anns = []
    for im in images:
        for _ in range(rng.randrange(0, 5)):
            x, y = rng.uniform(0, 40), rng.uniform(0, 30)
            poly = [x, y, x + rng.uniform(2, 20), y, x + rng.uniform(2, 20), y + rng.uniform(2, 15)]
            anns.append({"id": 5 * len(anns) + 3, "image_id": im["id"], "category_id": rng.choice([1, 3]),
                         "segmentation": [poly], "area": 10.0, "bbox": [x, y, 5.0, 5.0], "iscrowd": 0})
    if shuffle:
        rng.shuffle(anns)
    return {"info": {"year": 2026}, "licenses": [{"id": 1, "name": "x"}], "images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "a", "supercategory": "s"}, {"id": 3, "name": "b"}], "extra": [1, 2]}


def _parts(path, n: int) -> list:
    """The parts, each as ``(selection, header, items)`` read through ``segmill.stream(path, selection=s)``."""
    out = []
    for sel in coco.shards(path, n):
        st = segmill.stream(path, "coco", selection=sel)
        assert st.bounded
        out.append((sel, st.header, list(st)))
    return out


def _same_header(a, b) -> None:
    assert (a.categories, a.info, a.licenses, a.extra) == (b.categories, b.info, b.licenses, b.extra)
    assert {k: v for k, v in a.meta.items() if k != "coco"} == {k: v for k, v in b.meta.items() if k != "coco"}
    assert a.meta["coco"]["keys"] == b.meta["coco"]["keys"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_images=st.integers(0, 30), n=st.integers(1, 9), seed=st.integers(0, 10**6), shuffle=st.booleans(),
       batch=st.integers(1, 6))
def test_parts_concatenated_are_the_whole_stream(n_images, n, seed, shuffle, batch):
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(coco, "STREAM_BYTES", 0), \
            mock.patch.object(_coco_stream, "BATCH", batch):
        path = Path(tmp) / "c.json"
        path.write_text(json.dumps(_dataset(n_images, seed, shuffle)))
        whole = segmill.stream(path, "coco")
        assert whole.bounded
        whole_items = list(whole)
        parts = _parts(path, n)
        assert 1 <= len(parts) <= max(1, min(n, n_images))
        assert [it for _, _, items in parts for it in items] == whole_items
        ranges = [(sel.start, sel.stop) for sel, _, _ in parts]
        assert ranges[0][0] == 0 and ranges[-1][1] == n_images
        assert all(a[1] == b[0] and (b[0] < b[1] or n_images == 0) for a, b in itertools.pairwise(ranges))
        assert all(len(items) == sel.stop - sel.start for sel, _, items in parts)
        for _, header, _ in parts:
            _same_header(header, whole.header)
        # the first part's file order, resolved in every item, is the order the whole read records
        order = parts[0][1].meta["coco"]["order"]
        assert isinstance(order, FileOrder) and all(h.meta["coco"]["order"] is None for _, h, _ in parts[1:])
        read = segmill.read(path, "coco")
        assert order.restricted(whole_items) == read.meta["coco"]["order"]
        if whole_items and whole_items[0].annotations:  # not every item: nothing to say
            assert order.restricted(whole_items[1:]) is None


@pytest.fixture
def big(tmp_path, monkeypatch):
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_dataset(50, seed=4)))
    return path


def test_a_part_builds_only_its_own_items_and_reads_only_its_records(big, monkeypatch):
    built, read = [], []
    real_images, real_read = _coco_stream.read_images, _coco_stream._read
    monkeypatch.setattr(_coco_stream, "read_images", lambda recs, err: built.extend(recs) or real_images(recs, err))
    monkeypatch.setattr(_coco_stream, "_read", lambda fd, a, b, *path: read.append(b - a) or real_read(fd, a, b, *path))
    whole_ids = [it.id for it in segmill.read(big, "coco").items]
    sels = coco.shards(big, 4)
    assert len(sels) == 4
    size = big.stat().st_size
    for sel in sels:
        built.clear(), read.clear()
        _, items = coco.stream(big, selection=sel)
        got = [it.id for it in items]
        assert got == whole_ids[sel.start:sel.stop]
        assert [r["id"] for r in built] == got  # no other image was built
        assert 0 < sum(read) < size * 0.6  # and no scan of the file
    assert sorted(i for sel in sels for i in range(sel.start, sel.stop)) == list(range(len(whole_ids)))


def test_the_driver_resolves_the_file_order_as_the_whole_read(big):
    """pack_meta / merged_meta as a sharded read uses them: the first part's FileOrder becomes the CocoOrder."""
    parts = _parts(big, 3)
    shards = plan(big, "coco", {}, 1)
    assert all(isinstance(s.selection, CocoPart) for s in shards)
    items = [it for _, _, its in parts for it in its]
    meta = merged_meta(shards[:3], [pack_meta(h.meta, its) for _, h, its in parts], items)
    whole = segmill.read(big, "coco")
    assert isinstance(meta["coco"]["order"], CocoOrder)
    assert meta["coco"]["order"] == whole.meta["coco"]["order"]
    out = big.parent / "out"
    out.mkdir()
    segmill.write(whole, out / "a.json", "coco")
    segmill.write(segmill.Dataset(parts[0][1].categories, items, parts[0][1].info, parts[0][1].licenses,
                                  parts[0][1].extra, meta), out / "b.json", "coco")
    assert (out / "a.json").read_bytes() == (out / "b.json").read_bytes()


def test_plan_falls_back_to_position_ranges(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_dataset(20, seed=1)))
    # small file (the default threshold): read whole, cut by position as before
    assert [s.selection for s in plan(path, "coco", {}, 2)] == [PositionRange(0, 2), PositionRange(1, 2)]
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    assert all(isinstance(s.selection, CocoPart) for s in plan(path, "coco", {}, 2))
    # a lenient errors mode (segmill check --workers passes keep) reads whole
    for errors in ("keep", "skip"):
        assert [s.selection for s in plan(path, "coco", {"errors": errors}, 2)] == [PositionRange(0, 2),
                                                                                     PositionRange(1, 2)]
    # a file the index cannot vouch for (string image ids)
    doc = _dataset(20, seed=1)
    for im in doc["images"]:
        im["id"] = str(im["id"])
    for a in doc["annotations"]:
        a["image_id"] = str(a["image_id"])
    path.write_text(json.dumps(doc))
    assert coco.shards(path, 4) is None
    assert [s.selection for s in plan(path, "coco", {}, 1)] == [PositionRange(0, 1)]


def test_a_bad_record_in_a_part_is_the_whole_read_error(big):
    doc = json.loads(big.read_text())
    doc["annotations"][len(doc["annotations"]) // 2]["segmentation"] = {"counts": 5, "size": "x"}
    big.write_text(json.dumps(doc))
    with pytest.raises(InputError) as whole:
        list(segmill.stream(big, "coco"))
    errors = []
    for sel in coco.shards(big, 4):
        try:
            list(coco.stream(big, selection=sel)[1])
        except InputError as exc:
            errors.append(str(exc))
    assert errors == [str(whole.value)]


def test_a_file_changed_after_the_plan_is_an_error(big):
    sels = coco.shards(big, 2)
    text = big.read_text()
    big.write_text(text + " ")
    with pytest.raises(InputError, match="changed"):
        coco.stream(big, selection=sels[1])
    big.write_text(text)
    os.utime(big, ns=(sels[1].mtime_ns, sels[1].mtime_ns))
    assert [it.id for it in coco.stream(big, selection=sels[1])[1]]


# -- on a dask cluster ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed", reason="sharded runs need dask[distributed] (the segmill[dask] extra)")
    from segmill.distributed import connect

    with connect(2) as c:
        yield c


@pytest.fixture(scope="module")
def coco_file(tmp_path_factory):
    """A COCO file over 512 KiB (streamed at a 16M budget), its annotations not in image order."""
    doc = coco_dict(120, seed=7)
    random.Random(2).shuffle(doc["annotations"])
    path = tmp_path_factory.mktemp("coco_shards") / "big.json"
    path.write_text(json.dumps(doc))
    assert path.stat().st_size > 512 << 10
    return path


def _convert(args) -> bytes:
    from click.testing import CliRunner

    from segmill.cli import main

    r = CliRunner().invoke(main, ["convert", *map(str, args), "--json", "-q"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    rep.pop("path", None)
    return rep


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("to", ["coco", "voc", "yolo"])
def test_convert_sharded_by_images_equals_single_process(client, coco_file, tmp_path, monkeypatch, to):
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    shards = plan(coco_file, "coco", {}, 2)
    assert len(shards) > 2 and all(isinstance(s.selection, CocoPart) for s in shards)
    name = "out.json" if to == "coco" else "out"
    one = _convert([coco_file, tmp_path / "one" / name, "--to", to])
    two = _convert([coco_file, tmp_path / "two" / name, "--to", to, "--scheduler", client.scheduler.address])
    assert one == two
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two") and _tree(tmp_path / "one")


def test_info_sharded_by_images_equals_single_process(client, coco_file, monkeypatch):
    from segmill._info import summarize_stream
    from segmill.distributed import summarize_sharded

    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    st = segmill.stream(coco_file, "coco")
    assert st.bounded
    whole = summarize_stream(st)
    sharded, header = summarize_sharded(client, coco_file, "coco", {}, 2)
    assert sharded == whole and header.categories == segmill.stream(coco_file, "coco").header.categories


def test_cli_workers_with_a_memory_budget_streams_and_equals_single_process(coco_file, tmp_path, monkeypatch):
    """No monkeypatch: a 16M budget (the environment, read by the driver and its LocalCluster) makes it stream."""
    from click.testing import CliRunner

    from segmill.cli import main

    monkeypatch.setenv("SEGMILL_MEMORY_BUDGET", "16M")
    assert all(isinstance(s.selection, CocoPart) for s in plan(coco_file, "coco", {}, 2))
    one = _convert([coco_file, tmp_path / "one" / "out.json", "--to", "coco"])
    two = _convert([coco_file, tmp_path / "two" / "out.json", "--to", "coco", "--workers", "2"])
    assert one == two and _tree(tmp_path / "one") == _tree(tmp_path / "two")
    a = CliRunner().invoke(main, ["info", str(coco_file), "--json"])
    b = CliRunner().invoke(main, ["info", str(coco_file), "--json", "--workers", "2"])
    assert a.exit_code == b.exit_code == 0, a.output + b.output
    assert json.loads(a.stdout) == json.loads(b.stdout)


@pytest.mark.parametrize("order", ["items", "image ids"])
def test_convert_sharded_grouped_annotations_render_with_the_parse_only_in_item_order(client, tmp_path_factory,
                                                                                        monkeypatch, order):
    """Annotations grouped by image. In the images' order, each part is rendered in its parse's task (one round);
    in another order (image ids here) the writer keeps the file's, so the parts fall back to the general path."""
    import segmill.distributed.convert as dconvert
    from segmill import io

    doc = coco_dict(120, seed=7)
    position = {im["id"]: k for k, im in enumerate(doc["images"])}
    doc["annotations"].sort(key=lambda a: position[a["image_id"]] if order == "items" else a["image_id"])
    assert [position[a["image_id"]] for a in doc["annotations"]] != sorted(position.values()) or order == "items"
    src = tmp_path_factory.mktemp("grouped") / "big.json"
    src.write_text(json.dumps(doc))
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    assert len(plan(src, "coco", {}, 2)) > 2
    rounds, real = [], dconvert.gather
    monkeypatch.setattr(dconvert, "gather", lambda c, fs, desc="shards": rounds.append(desc) or real(c, fs, desc))
    out = src.parent / "out"
    io.convert(src, out / "one.json", "coco", "coco")
    rep = dconvert.convert_sharded(client, 2, src, out / "two.json", "coco", "coco")
    # facts and parts in one round; the fall-back reads the parsed items again
    assert rounds == (["read"] if order == "items" else ["read", "read"])
    assert (out / "one.json").read_bytes() == (out / "two.json").read_bytes() and rep.annotations > 100
    assert sorted(os.listdir(out)) == ["one.json", "two.json"]
