"""Sharded ``convert`` to COCO with the records rendered on the workers: the single-process bytes and report."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from segmill import io
from segmill.errors import InputError

pytest.importorskip("distributed", reason="sharded runs need dask[distributed] (the segmill[dask] extra)")

from segmill.distributed import connect, convert_sharded, plan  # noqa: E402
from segmill.transforms import DropCrowd, Editor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"


@pytest.fixture(scope="module")
def client():
    with connect(2) as c:
        yield c


@pytest.fixture(scope="module")
def sa1b(tmp_path_factory, sa1b_tars):
    """SA-1B-like tar shards: 3 tars of 4 images."""
    return sa1b_tars(tmp_path_factory.mktemp("render") / "sa1b", 3, 4)


@pytest.fixture
def staged(monkeypatch):
    """Counts the outputs written from parts rendered on the workers (``io.write_staged``)."""
    calls = []
    real = io.write_staged

    def spy(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(io, "write_staged", spy)
    return calls


def _both(client, tmp_path, src, from_format, to_format, name="out.json", **kwargs):
    """``(single-process bytes, sharded bytes, single report, sharded report)``."""
    outs, reports = [], []
    for tag, run in (("one", lambda d: io.convert(src, d, from_format, to_format, **kwargs)),
                     ("two", lambda d: convert_sharded(client, 2, src, d, from_format, to_format, **kwargs))):
        dst = tmp_path / tag / name
        dst.parent.mkdir(parents=True)
        rep = run(dst).to_dict()
        rep["path"] = name
        reports.append(rep)
        outs.append({p.relative_to(dst.parent).as_posix(): p.read_bytes()
                     for p in sorted(dst.parent.rglob("*")) if p.is_file()})
    assert outs[0] and outs[0] == outs[1]
    assert reports[0] == reports[1]
    return reports[0]


def test_sa1b_to_coco_rendered_on_the_workers_is_byte_identical(client, sa1b, tmp_path, staged):
    assert len(plan(sa1b, "sa1b", {}, 2)) == 3
    rep = _both(client, tmp_path, sa1b, "sa1b", "coco")
    assert len(staged) == 1 and rep["annotations"] > 20


def test_sa1b_to_coco_with_losses_same_losses_in_order(client, sa1b, tmp_path, staged):
    opts = io.ConvertOptions(write={"segmentation": "polygon", "polygon_mode": "simplified", "tolerance": 2.0})
    rep = _both(client, tmp_path, sa1b, "sa1b", "coco", options=opts)
    assert len(staged) == 1 and rep["losses"]


@pytest.mark.parametrize("src, fmt", [(FIX / "voc", "voc"), (FIX / "masks", "masks")])
def test_per_file_format_to_coco_rendered_is_byte_identical(client, tmp_path, staged, src, fmt):
    # string image ids (numbered by the writer across the parts); VOC's splits are lost (L105)
    assert len(plan(src, fmt, {}, 2)) >= 2  # VOC cuts itself into runs of images, masks by position
    rep = _both(client, tmp_path, src, fmt, "coco")
    assert len(staged) == 1 and rep["notes"]
    if fmt == "voc":
        assert "L105" in rep["summary"]


def test_an_edit_or_another_target_takes_the_general_path_and_still_matches(client, sa1b, tmp_path, staged):
    _both(client, tmp_path / "edit", sa1b, "sa1b", "coco", options=io.ConvertOptions(edit=Editor([DropCrowd()])))
    _both(client, tmp_path / "yolo", sa1b, "sa1b", "yolo", name="out")
    _both(client, tmp_path / "voc", FIX / "voc", "voc", "yolo", name="out")
    assert staged == []


def test_a_coco_source_falls_back_and_still_matches(client, tmp_path, staged):
    _both(client, tmp_path, FIX / "coco" / "annotations.json", "coco", "coco")
    assert staged == []  # the file's annotation order: the general path


def test_an_image_id_repeated_across_shards_is_the_single_process_error(client, sa1b, tmp_path, staged):
    src = tmp_path / "dup"
    src.mkdir()
    for p in sorted(sa1b.glob("*.tar"))[:2]:
        (src / p.name).write_bytes(p.read_bytes())
    (src / "sa_000009.tar").write_bytes((sa1b / "sa_000000.tar").read_bytes())  # the same images again
    with tarfile.open(src / "sa_000009.tar") as tf:
        assert tf.getnames()
    errors = _errors(client, src, tmp_path / "out.json")
    assert errors[0] == errors[1] and "duplicate image id" in errors[0]
    assert staged == [] and not (tmp_path / "out.json").exists()


def _errors(client, src, dst) -> list[str]:
    """The error of the single-process convert of ``src``, then the sharded one's (both must refuse)."""
    errors = []
    for run in (lambda d: io.convert(src, d, "sa1b", "coco"),
                lambda d: convert_sharded(client, 2, src, d, "sa1b", "coco")):
        with pytest.raises(InputError) as exc:
            run(dst)
        errors.append(str(exc.value))
    return errors


def test_the_first_bad_record_is_the_single_process_error(client, tmp_path):
    folder = tmp_path / "sa"
    shutil.copytree(FIX / "sa1b", folder)
    (folder / "sa_3.json").write_text('{"image": {"image_id": 3}, "annotations": [')  # broken JSON
    (folder / "sa_4.json").write_text("[1]")  # later in order: never the one reported
    assert len(plan(folder, "sa1b", {}, 2)) > 2
    errors = _errors(client, folder, tmp_path / "out.json")
    assert errors[0] == errors[1] and "sa_3.json" in errors[0]
    assert not (tmp_path / "out.json").exists()


def test_skipped_records_same_output_and_report(client, tmp_path, staged):
    folder = tmp_path / "sa"
    shutil.copytree(FIX / "sa1b", folder)
    (folder / "sa_0.json").write_text('{"image": 1, "annotations": []}')
    _both(client, tmp_path / "out", folder, "sa1b", "coco", options=io.ConvertOptions(read={"errors": "skip"}))
    assert len(staged) == 1


@pytest.mark.parametrize("local", [True, False])
def test_parts_go_through_files_only_where_the_workers_share_the_files(client, sa1b, tmp_path, monkeypatch, local):
    """A LocalCluster's workers spill their text beside the output; a client by address gets the text."""
    from distributed import Client

    from segmill.formats import coco

    seen = []
    real = coco.write_parts

    def spy(header, parts, *args, **kwargs):
        seen.append(({type(p.images).__name__ for p in parts}, sorted(os.listdir(tmp_path / "two"))))
        return real(header, parts, *args, **kwargs)

    monkeypatch.setattr(coco, "write_parts", spy)
    if local:
        _both(client, tmp_path, sa1b, "sa1b", "coco")
    else:
        with Client(client.scheduler.address) as remote:
            _both(remote, tmp_path, sa1b, "sa1b", "coco")
    (kinds, beside), = seen
    assert kinds == ({"Spilled"} if local else {"bytes"})
    assert any(name.endswith(".segmill-parts") for name in beside) == local
    assert os.listdir(tmp_path / "two") == ["out.json"]  # the parts' folder is gone
