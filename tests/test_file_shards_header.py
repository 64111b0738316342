"""The header's first pass made once, on the driver, for sharded reads of GeoJSON, CVAT, Label Studio, CamVid,
image + mask folders and mask folders (``FormatSpec.shards``, :func:`segmill.formats._file_runs.with_headers`).

``shards(path, 3)`` makes the pass a stream makes over every input before
its items (categories, mask modes and values, header elements, task ids);
each part, read from its selection as a worker reads it (pickled), takes
what it needs from there: a spy on the pass counts it on the driver and
refuses it in the parts. The parts' items, renumbered as a sharded run
renumbers them, are the whole read's, and each part's header is the
single-process stream's. What a part holds its inputs to (the check that
they did not change while read) is what the driver found: a file changed
after the driver looked is refused by the part reading it.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill import synth
from segmill.distributed.shards import Shard, renumber
from segmill.errors import InputError
from segmill.formats import (
    _label_studio_stream,
    camvid,
    cvat,
    formats,
    image_masks,
    masks,
)

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")  # rasterio's
HERE = Path(__file__).parent


_spec = importlib.util.spec_from_file_location("test_file_shards", HERE / "test_file_shards.py")
F = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(F)
_load = F._load  # the other tests' builders, loaded as modules


O = _load("_read_stream")  # its synthetic dataset
CL = _load("test_cvat_label_studio_read_stream")  # its built CVAT and Label Studio sets


def _geojson():
    """The GeoJSON module and its stream tests' builder, or ``None`` without the geo extra."""
    try:
        return _load("test_geojson_read_stream")
    except pytest.skip.Exception:
        return None


GJ = _geojson()
needs_geo = pytest.mark.skipif(GJ is None, reason="the geo extra is not installed")


class Spy:
    """Wraps a module's function: counts its calls on the driver, refuses them (AssertionError) once
    :attr:`parts` is set."""

    def __init__(self, monkeypatch, module, name: str):
        self.calls, self.parts, real = [], False, getattr(module, name)

        def spy(*args, **kwargs):
            assert not self.parts, f"a part made the first pass ({name})"
            self.calls.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)


def _coco(root: Path, n: int = 7) -> segmill.Dataset:
    return segmill.read(synth.write_coco(root / "src.json", n, seed=5, extra_fields=False), "coco")


# ------------------------------------------------------------------ the datasets
def _camvid(tmp_path: Path) -> Path:
    ds = _coco(tmp_path)
    for k, item in enumerate(ds.items):
        item.split = ("train", "val")[k % 2]
    segmill.write(ds, tmp_path / "camvid", "camvid")
    segmill.write(ds, tmp_path / "camvid-L", "camvid", mask_mode="L")
    return tmp_path / "camvid"


def _image_masks(tmp_path: Path) -> Path:
    root = tmp_path / "im"
    segmill.write(O.synthetic(tmp_path, 7), root, "image_masks")
    (root / "dataset_meta.json").unlink()  # no table: the classes are the values the first pass finds
    return root


def _masks(tmp_path: Path) -> Path:
    segmill.write(O.synthetic(tmp_path, 7), tmp_path / "masks", "masks", mode="P")
    return tmp_path / "masks"


def _cvat(tmp_path: Path) -> Path:
    return CL._cvat_cases(tmp_path)["good"]


def _label_studio(tmp_path: Path) -> Path:
    return CL._ls_cases(tmp_path)["good"]


def _scenes(tmp_path: Path) -> Path:
    return GJ.built.__wrapped__(_Factory(tmp_path))


class _Factory:
    """What the GeoJSON builder asks of pytest's ``tmp_path_factory``."""

    def __init__(self, root: Path):
        self.root = root

    def mktemp(self, name: str) -> Path:
        (self.root / name).mkdir()
        return self.root / name


def _mask_files(root: Path, pattern: str) -> int:
    return len(list(root.rglob(pattern)))


#: format: (builder, module of the first pass, its function, how many calls the driver makes)
CASES = {
    "camvid": (_camvid, camvid, "_mask_mode", lambda root: _mask_files(root, "*annot/*.png")),
    "image_masks": (_image_masks, image_masks, "_mask_facts", lambda root: _mask_files(root, "masks/*.png")),
    "masks": (_masks, masks, "_semantic_mode", lambda root: len(masks._stems(root)[0])),
    "cvat": (_cvat, cvat, "_first_pass", lambda root: 0),  # the driver's parse is the one shards makes anyway
    "label_studio": (_label_studio, _label_studio_stream, "_first_pass", lambda root: 1),
    "geojson": (_scenes, None, "_first_categories", lambda root: 1),
}
FORMATS = [pytest.param(f, marks=needs_geo) if f == "geojson" else f for f in CASES]


def _case(fmt: str, tmp_path: Path, monkeypatch) -> tuple[Path, Spy, int]:
    build, module, name, calls = CASES[fmt]
    path = build(tmp_path)
    if module is None:
        from segmill.formats import geojson as module
    return path, Spy(monkeypatch, module, name), calls(path)


def _parts(path: Path, fmt: str, sels: list[dict]) -> tuple[list, list]:
    """The headers and the items of the parts, each read from its selection pickled (as a worker gets it),
    the items renumbered as a sharded run renumbers them."""
    headers, parts = [], []
    for sel in sels:
        header, items = formats()[fmt].stream(path, selection=pickle.loads(pickle.dumps(sel)))
        headers.append(header)
        parts.append(list(items))
    renumber([Shard(str(path), fmt, {}, sel, k, len(sels)) for k, sel in enumerate(sels)], parts)
    return headers, parts


# ------------------------------------------------------------------ the pass is the driver's
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_driver_makes_the_first_pass_once_and_no_part_makes_it(tmp_path, monkeypatch, fmt):
    path, spy, driver_calls = _case(fmt, tmp_path, monkeypatch)
    sels = formats()[fmt].shards(path, 3)
    assert len(sels) == 3 and all("header" in sel for sel in sels)
    assert len(spy.calls) == driver_calls  # every input looked at once
    spy.parts = True
    headers, parts = _parts(path, fmt, sels)
    spy.parts = False  # the single process's own
    whole = segmill.read(path, fmt)
    assert [item for part in parts for item in part] == whole.items
    single = formats()[fmt].stream(path)[0]
    for header in headers:
        assert header.categories == whole.categories == single.categories
        assert header.meta == single.meta


def test_a_cvat_part_parses_the_file_once_for_its_items(tmp_path, monkeypatch):
    path = _cvat(tmp_path)
    parses = Spy(monkeypatch, cvat, "images")
    sels = cvat.shards(path, 3)
    assert len(parses.calls) == 1  # the driver's one parse: the runs and the header
    parses.calls.clear()
    _parts(path, "cvat", sels)
    assert len(parses.calls) == len(sels)  # the second pass of each part, no first one


def test_a_label_studio_selection_carries_only_the_ids_its_tasks_repeat(tmp_path):
    cases = CL._ls_cases(tmp_path)
    good = formats()["label_studio"].shards(cases["good"], 3)
    assert all(sel["header"][2] == set() for sel in good)
    for _ in range(2):  # a selection read twice in one process: the ids the first read met are not the second's
        assert list(formats()["label_studio"].stream(cases["good"], selection=good[1])[1])
    sels = formats()["label_studio"].shards(cases["dup_ids"], 8)  # the 10th task has the id of the 3rd
    late = next(s for s in sels if s["start"] <= 9 < s["stop"])
    assert [s["header"][2] for s in sels] == [{3} if s is late else set() for s in sels]
    with pytest.raises(InputError, match="duplicate task id 3"):
        list(formats()["label_studio"].stream(cases["dup_ids"], selection=late)[1])


@pytest.mark.parametrize("fmt", ["camvid", "masks", "image_masks", "label_studio"])
def test_a_selection_without_a_header_is_read_as_before(tmp_path, monkeypatch, fmt):
    path, spy, _ = _case(fmt, tmp_path, monkeypatch)
    sels = [{k: v for k, v in sel.items() if k != "header"} for sel in formats()[fmt].shards(path, 3)]
    spy.calls.clear()
    _, parts = _parts(path, fmt, sels)
    assert spy.calls  # each part made its own pass
    assert [item for part in parts for item in part] == segmill.read(path, fmt).items


# ------------------------------------------------------------------ changed after the driver looked
def _new_label(path: Path) -> None:
    tasks = json.loads(path.read_text())
    value = tasks[-1]["annotations"][0]["result"][0]["value"]
    value[next(k for k in value if k.endswith("labels"))] = ["brand_new"]
    path.write_text(json.dumps(tasks))


def _new_class(root: Path) -> None:
    from segmill.formats import geojson

    f = geojson._scenes(root)[-1][1]
    doc = json.loads(f.read_text())
    doc["features"][-1]["properties"]["class"] = "brand_new"
    f.write_text(json.dumps(doc))


def _as_grey(f: Path) -> None:
    Image.fromarray(np.asarray(Image.open(f))).convert("L").save(f)


def _as_palette(f: Path) -> None:
    im = Image.fromarray(np.asarray(Image.open(f)), "L").convert("P")
    im.putpalette([v for k in range(256) for v in (k, k, k)])
    im.save(f)


def _camvid_grey(root: Path) -> None:
    last = camvid._lists(root)[-1]
    mask = last.read_text().split()[-1].lstrip("/")
    shutil.copyfile(root.parent / "camvid-L" / mask, root / mask)


#: format: what changes in the last part's run after the driver's pass (nothing a fresh pass would notice)
CHANGES = {
    "camvid": _camvid_grey,
    "image_masks": lambda root: _as_palette(max(root.rglob("masks/*.png"))),
    "masks": lambda root: _as_grey(max(root.rglob("semantic/*.png"))),
    "label_studio": _new_label,
    "geojson": _new_class,
}


@pytest.mark.parametrize("fmt", [pytest.param(f, marks=needs_geo) if f == "geojson" else f for f in CHANGES])
def test_a_part_holds_its_inputs_to_what_the_driver_found(tmp_path, monkeypatch, fmt):
    path, _, _ = _case(fmt, tmp_path, monkeypatch)
    sels = formats()[fmt].shards(path, 3)
    CHANGES[fmt](path)
    for sel in sels[:-1]:  # the runs before it did not change
        list(formats()[fmt].stream(path, selection=sel)[1])
    with pytest.raises(InputError, match="changed while"):
        list(formats()[fmt].stream(path, selection=sels[-1])[1])
