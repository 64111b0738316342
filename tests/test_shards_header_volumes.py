"""The header's first pass made once, on the driver, for sharded NIfTI, NRRD, DICOM SEG, Open Images, Mapillary.

``FormatSpec.shards`` makes the pass over every input the header needs and
puts in each selection what its part needs of it
(:func:`segmill.formats._file_runs.with_headers`): a part then reads its own
inputs only. Each test plans the parts, reads every one with its selection
(pickled, as a worker gets it) while the pass is counted, and checks that
the pass ran on the driver once and in no part, that a part reads no input
of another part, and that the parts' items, renumbered as a sharded run
renumbers them, are the whole read's.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

import segmill
from segmill.distributed.shards import Shard, renumber
from segmill.errors import InputError

HERE = Path(__file__).parent


_spec = importlib.util.spec_from_file_location("test_file_shards", HERE / "test_file_shards.py")
F = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(F)
_load, _optional = F._load, F._optional  # the other tests' builders, loaded as modules


V = _optional("test_volume_stream")  # its built volume folders and breakers (the medical extra)
D = _optional("test_dicom_seg_stream")  # its SEG builders (the medical extra)
OI = _load("test_open_images_stream")  # its built Open Images sets
MV = _load("test_mapillary_ade20k_stream")  # its grown Mapillary set
needs_volumes = pytest.mark.skipif(V is None, reason="the medical extra is not installed")
needs_seg = pytest.mark.skipif(D is None, reason="the medical extra is not installed")


def _parts(path, fmt: str, sels: list, read, **options) -> tuple[list, list]:
    """``(headers, items)`` of each selection of ``sels``, pickled as a worker gets it and read by
    ``read(selection)`` (``(header, items)``, the items listed there), renumbered as a sharded run does."""
    assert len(sels) > 1
    shards = [Shard(str(path), fmt, options, pickle.loads(pickle.dumps(s)), k, len(sels)) for k, s in enumerate(sels)]
    read_parts = [read(s.selection) for s in shards]
    parts = [items for _, items in read_parts]
    renumber(shards, parts)
    return [header for header, _ in read_parts], parts


def _same_as_read(path, fmt: str, headers: list, parts: list, **options) -> None:
    """The parts' items are the whole read's, in order; each part's header has its categories and meta (the
    skipped records apart: a part lists those of its run; the source path apart: ``segmill.read`` adds it)."""
    whole = segmill.read(path, fmt, **options)
    assert [it for part in parts for it in part] == whole.items
    skipped = whole.meta.pop("skipped", None)
    whole.meta.pop("source_path", None)
    for h in headers:
        assert h.categories == whole.categories
        assert {k: v for k, v in h.meta.items() if k != "skipped"} == whole.meta
    if skipped is not None:
        assert [r for h in headers for r in h.meta["skipped"]] == skipped  # each dropped file, once


def _counted(monkeypatch, module, name: str) -> list:
    """Calls of ``module.name`` from now on (each call's first argument)."""
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a[0] if a else None) or real(*a, **k))
    return calls


def _listed(stream):
    """``(header, items)`` of a ``stream(...)`` call, the items listed."""
    header, items = stream
    return header, list(items)


# ------------------------------------------------------------------ NIfTI and NRRD
@pytest.fixture(scope="module")
def volumes(tmp_path_factory) -> dict:
    """The stream tests' folders of four volumes per format (some sharing label values), with a label table."""
    return V.built.__wrapped__(tmp_path_factory)


def _counted_loads(monkeypatch, fmt: str) -> list:
    """The names of the volume files the format's backend loads from now on."""
    mod, loads = V.MODULES[fmt], []
    real = mod.BACKEND.load
    monkeypatch.setattr(mod, "BACKEND", dataclasses.replace(mod.BACKEND, load=lambda f: loads.append(f.name)
                                                            or real(f)))
    return loads


def _volumes_in_parts(monkeypatch, root: Path, fmt: str, **options) -> None:
    """``shards(root, 3)``: the first pass made by the driver alone, each part loading its own volumes once
    and no other, the parts' items and headers the whole read's."""
    from segmill.formats import _volume_stream

    mod, loads = V.MODULES[fmt], _counted_loads(monkeypatch, fmt)
    passes = _counted(monkeypatch, _volume_stream, "first_passes")
    files = sorted(f.name for f in root.iterdir() if f.name.endswith(V.SAVE[fmt]))
    sels = mod.shards(root, 3, **options)
    assert len(passes) == 1 and sorted(loads) == files  # the driver's one pass, over every volume
    assert len(sels) == 3 and all(s["header"].whole == sels[0]["header"].whole for s in sels)
    del passes[:]
    loaded = []

    def read(sel):
        del loads[:]
        out = _listed(mod.stream(root, selection=sel, **options))
        loaded.append(list(loads))
        return out

    headers, parts = _parts(root, fmt, sels, read, **options)
    assert passes == []  # no part made the first pass
    assert loaded == [files[s["start"]:s["stop"]] for s in sels]  # each volume read once, by its own part
    _same_as_read(root, fmt, headers, parts, **options)


@needs_volumes
@pytest.mark.parametrize("fmt", ["nifti", "nrrd"])
@pytest.mark.parametrize("options", [{}, {"volume_instances": "components", "min_area": 2, "connectivity": 6}])
def test_a_volume_part_reads_its_own_volumes_once_and_no_other(volumes, monkeypatch, fmt, options):
    _volumes_in_parts(monkeypatch, volumes[fmt], fmt, **options)


@needs_volumes
@pytest.mark.parametrize("fmt", ["nifti", "nrrd"])
@pytest.mark.parametrize("errors", ["skip", "keep"])
def test_a_bad_volume_is_dropped_by_its_part_alone(volumes, tmp_path, monkeypatch, fmt, errors):
    root = tmp_path / fmt
    shutil.copytree(volumes[fmt], root)
    V._garbage(root, "case1", V.SAVE[fmt])
    _volumes_in_parts(monkeypatch, root, fmt, errors=errors)


@needs_volumes
@pytest.mark.parametrize("fmt", ["nifti", "nrrd"])
def test_a_bad_volume_is_refused_by_its_part_and_the_parts_after_it(volumes, tmp_path, monkeypatch, fmt):
    root = tmp_path / fmt
    shutil.copytree(volumes[fmt], root)
    V._garbage(root, "case1", V.SAVE[fmt])
    with pytest.raises(InputError) as whole:
        segmill.read(root, fmt)
    mod = V.MODULES[fmt]
    sels = mod.shards(root, 3)
    loads = _counted_loads(monkeypatch, fmt)
    got = []
    for sel in sels:
        del loads[:]
        header, items = mod.stream(root, selection=pickle.loads(pickle.dumps(sel)))
        items = iter(items)
        try:
            while True:
                next(items)
        except StopIteration:
            got.append((None, list(loads)))
        except InputError as exc:
            got.append((str(exc), list(loads)))
    files = [f"case{k}{V.SAVE[fmt]}" for k in range(4)]
    expected = [(None, files[s["start"]:s["stop"]]) if s["stop"] <= 1 else  # before the bad volume: its items
                (str(whole.value), files[s["start"]:2]) if s["start"] <= 1 else  # the bad volume's part
                (str(whole.value), []) for s in sels]  # after it: the driver's error, no volume read
    assert got == expected and expected[-1][1] == []


@needs_volumes
def test_a_volume_changed_after_the_driver_read_it_is_refused_by_its_part(volumes, tmp_path):
    from segmill.formats import nifti

    root = tmp_path / "v"
    shutil.copytree(volumes["nifti"], root)
    sels = nifti.shards(root, 3)
    V._save(root / "case3.nii.gz", np.full((9, 8, 5), 11, np.uint8))  # a label value the driver never saw
    _, items = nifti.stream(root, selection=sels[-1])
    with pytest.raises(InputError, match="the volume files changed while they were read"):
        list(items)
    for sel in sels[:-1]:  # the other parts read their unchanged volumes
        _listed(nifti.stream(root, selection=sel))


@needs_volumes
def test_a_selection_without_the_first_pass_makes_it(volumes):
    from segmill.formats import nifti

    sel = nifti.shards(volumes["nifti"], 3)[1]
    bare = {k: v for k, v in sel.items() if k != "header"}
    assert _listed(nifti.stream(volumes["nifti"], selection=sel)) == _listed(nifti.stream(volumes["nifti"],
                                                                                           selection=bare))


# ------------------------------------------------------------------ DICOM SEG
@needs_seg
def test_a_dicom_seg_part_reads_no_file_of_another_part(tmp_path, monkeypatch):
    from segmill.formats import dicom_seg

    root = tmp_path / "seg"
    root.mkdir()
    m = D.D.binary_masks()
    D.D.make_seg(root / "a.dcm", m, ["liver", "tumor", "noise"])
    D.D.make_seg(root / "b.dcm", m[:2, ..., :2], ["liver", "tumor"])
    D.D.make_seg(root / "c.dcm", m[:3, ..., :1].astype("float32") * 0.75, ["liver"], fractional=True)
    D.D.make_seg(root / "d.dcm", m[:2, ..., :1], ["liver"])
    headers_read = _counted(monkeypatch, dicom_seg, "seg_header")
    loads = _counted(monkeypatch, dicom_seg, "load_seg")
    files = ["a.dcm", "b.dcm", "c.dcm", "d.dcm"]
    sels = dicom_seg.shards(root, 3)
    assert [f.name for f in headers_read] == files and len(sels) == 3  # the driver's pass
    del headers_read[:]
    loaded = []

    def read(sel):
        del loads[:]
        out = _listed(dicom_seg.stream(root, selection=sel))
        loaded.append([f.name for f in loads])
        return out

    headers, parts = _parts(root, "dicom_seg", sels, read)
    assert headers_read == []  # no part read every file's header
    assert loaded == [files[s["start"]:s["stop"]] for s in sels]
    _same_as_read(root, "dicom_seg", headers, parts)
    assert [c.name for c in headers[-1].categories] == ["liver", "tumor", "noise"]  # from a.dcm, another part's


# ------------------------------------------------------------------ Open Images
def test_an_open_images_part_takes_the_resized_count_from_its_selection(tmp_path, monkeypatch):
    from segmill.formats import open_images

    root = OI.build(tmp_path / "ds", seed=1)
    passes = _counted(monkeypatch, open_images, "_resized_counts")
    sels = open_images.shards(root, 3)
    assert len(passes) == 1 and len(sels) == 3  # the driver's one pass over the PNG headers
    total = sels[0]["header"][0]
    assert all(s["header"][0] == total for s in sels) and sum(s["header"][1] for s in sels) == total > 0
    del passes[:]
    headers, parts = _parts(root, "open_images", sels, lambda sel: _listed(open_images.stream(root, selection=sel)))
    assert passes == []  # no part looked at every image's and mask's PNG header
    _same_as_read(root, "open_images", headers, parts)


def test_an_open_images_part_compares_its_masks_with_the_carried_count(tmp_path):
    from segmill.formats import open_images

    root = OI.build(tmp_path / "ds", seed=1)
    sel = next(s for s in open_images.shards(root, 3) if s["header"][1])
    total, own = sel["header"]
    _, items = open_images.stream(root, selection={**sel, "header": (total, own - 1)})
    with pytest.raises(InputError, match="the mask files changed while they were read"):
        list(items)


# ------------------------------------------------------------------ Mapillary
@pytest.mark.parametrize("source", ["panoptic", "instances"])
def test_a_mapillary_part_passes_over_the_splits_before_its_run_unread(tmp_path, monkeypatch, source):
    from segmill.formats import mapillary

    root = MV.mv_grown(tmp_path / "mv")
    counts = mapillary.shards(root, 2, source=source)[0]["header"]
    assert len(counts) == 2  # training's units, validation's
    sels = mapillary.shards(root, sum(counts), source=source)  # a unit a part
    assert len(sels) == sum(counts) and all(s["header"] == counts for s in sels)
    reached, indexed = [], _counted(monkeypatch, mapillary, "_units")

    def read(sel):
        del indexed[:]
        out = _listed(mapillary.stream(root, source=source, selection=sel))
        reached.append([p.name for p in indexed])
        return out

    headers, parts = _parts(root, "mapillary", sels, read, source=source)
    ends = np.cumsum([0, *counts]).tolist()
    assert reached == [[name for name, a, b in zip(["training", "validation"], ends, ends[1:])
                        if a < s["stop"] and b > s["start"]] for s in sels]  # the splits its run reaches only
    assert reached[-1] == ["validation"]  # training passed over, its panoptic JSON not indexed
    _same_as_read(root, "mapillary", headers, parts, source=source)
