"""Shared pieces of the stream-writer tests (``FormatSpec.write_stream_any``): the oracle is the whole write.

A stream write must give the files and the report that ``segmill.write(segmill.read(src), dst, fmt)``
gives. :func:`counted` makes every COCO source stream (``STREAM_BYTES = 0``) and counts the calls of the
format's ``write_stream``, so a test cannot pass by reading whole. Loaded by the tests the way they load
``_edit_data.py`` (which this module loads too, as :data:`D`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats import coco
from segmill.geometry import Box
from segmill.io import ConvertOptions
from segmill.model import Annotation, Dataset, Item
from segmill.streaming import Stream
from segmill.transforms import DropCrowd, Editor, MapClasses, MinArea

_spec = importlib.util.spec_from_file_location("_edit_data", Path(__file__).with_name("_edit_data.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)

#: The edit chain every format's stream is tested under (crowds dropped, a class mapped, small objects dropped).
EDITS = [DropCrowd(), MapClasses({"car": "vehicle"}), MinArea(8)]


def count_writes(monkeypatch, fmt: str) -> list:
    """Make COCO sources stream and count ``fmt``'s ``write_stream`` calls (one entry a call)."""
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    calls: list = []
    spec = segmill.formats.get_format(fmt)
    counted_spec = dataclasses.replace(spec, write_stream=lambda *a, **k: calls.append(1) or spec.write_stream(*a, **k))
    monkeypatch.setitem(segmill.formats._REGISTRY, fmt, counted_spec)
    return calls


def counted(fmt: str):
    """An autouse ``streams`` fixture for a test module of one format: :func:`count_writes` of ``fmt``."""

    @pytest.fixture(autouse=True)
    def streams(monkeypatch):
        return count_writes(monkeypatch, fmt)

    return streams


def tree(root: Path) -> dict:
    """Every file and folder under ``root``: files with their bytes, folders None, a tar with its members' names
    (a file ``root``: its bytes under ``""``)."""
    if Path(root).is_file():
        return {"": Path(root).read_bytes()}
    out = {}
    for p in sorted(Path(root).rglob("*")):
        out[str(p.relative_to(root))] = p.read_bytes() if p.is_file() else None
        if p.suffix == ".tar":
            with tarfile.open(p) as tf:
                out[str(p.relative_to(root)) + ":members"] = [m.name for m in tf.getmembers()]
    return out


def files(t: dict) -> list:
    """The names of the files of a :func:`tree`."""
    return [k for k, v in t.items() if isinstance(v, bytes)]


def same_report(a, b) -> None:
    """The two write reports say the same: losses, notes and counts."""
    assert (a.losses, a.notes, a.items, a.annotations, a.files) == (b.losses, b.notes, b.items, b.annotations,
                                                                   b.files)


def same_tree(tmp_path, a, b) -> dict:
    """``tmp_path/s`` (the stream's) and ``tmp_path/w`` (the whole write's) hold the same; reports agree too."""
    want = tree(tmp_path / "w")
    assert tree(tmp_path / "s") == want
    same_report(a, b)
    return want


def plain(tmp_path, n: int, seed: int) -> Path:
    """A COCO file of ``n`` images (no image files) at ``tmp_path/src.json``."""
    return D.write_doc(tmp_path / "src.json", D.coco_doc(n, seed=seed))


def with_images(folder: Path, doc: dict, names=None) -> Path:
    """``doc`` written to ``folder/src.json`` with blank images beside it (file names from ``names(i)`` if given)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(doc["images"]):
        if names is not None:
            im["file_name"] = names(i)
        p = folder / im["file_name"]
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (im["width"], im["height"])).save(p)
    return D.write_doc(folder / "src.json", doc)


def same(tmp_path, fmt: str, src, chain, write: dict, streams, at_least: int):
    """Convert ``src`` to ``fmt`` as a stream (edited by ``chain``) and as a whole: the same files and reports.

    Returns the stream's and the whole write's reports; ``at_least`` is a floor of the files written.
    """
    e1, e2 = Editor(chain), Editor(chain)
    a = segmill.convert(src, tmp_path / "s", to_format=fmt, options=ConvertOptions(edit=e1, write=write))
    assert streams, "the conversion did not stream"
    b = segmill.write(e2(segmill.read(src)), tmp_path / "w", fmt, **write)
    assert len(files(same_tree(tmp_path, a, b))) >= at_least
    assert e1.report.to_dict() == e2.report.to_dict()
    return a, b


def refuses_image(tmp_path, fmt: str, bad: str, write=None) -> InputError:
    """A COCO source whose seventh image is named ``bad``: the whole write and the stream refuse it, writing nothing."""
    doc = D.coco_doc(10, seed=2)
    doc["images"][6]["file_name"] = bad
    src = D.write_doc(tmp_path / "src.json", doc)
    with pytest.raises(InputError):
        segmill.write(segmill.read(src), tmp_path / "w", fmt, **(write or {}))
    with pytest.raises(InputError) as streamed:
        segmill.convert(src, tmp_path / "s", to_format=fmt, options=ConvertOptions(write=write or {}))
    assert [p.name for p in tmp_path.iterdir()] == ["src.json"]
    return streamed.value


def boxes(n: int) -> list:
    """``n`` items of 5 x 4 named ``i0.png``, ``i1.png``, ..., a box each, of categories 1 and 2 in turn."""
    return [Item(i, f"i{i}.png", 5, 4, [Annotation(i + 1, 1 + i % 2, Box(0, 0, 2 + i % 3, 2))]) for i in range(n)]


def refused_alike(tmp_path, fmt: str, cats, items) -> InputError:
    """The whole write refuses ``items``, and a stream of them is refused with its message and record."""
    with pytest.raises(InputError) as whole:
        segmill.write(Dataset(cats, items), tmp_path / "w", fmt)
    with pytest.raises(InputError) as streamed:
        segmill.io.write_stream(Stream(Dataset(cats), iter(items), bounded=True), tmp_path / "s", fmt)
    assert (streamed.value.message, streamed.value.record) == (whole.value.message, whole.value.record)
    assert list(tmp_path.iterdir()) == []
    return whole.value


def written_alike(tmp_path, fmt: str, cats, items):
    """A stream of ``items()`` writes the whole write's files and report; returns the stream's report."""
    a = segmill.io.write_stream(Stream(Dataset(cats), iter(items()), bounded=True), tmp_path / "s", fmt)
    b = segmill.write(Dataset(cats, items()), tmp_path / "w", fmt)
    same_tree(tmp_path, a, b)
    return a


def cli(tmp_path, fmt: str, src, streams, *args, name: str = "s") -> Path:
    """``segmill convert src tmp_path/name --to fmt -q *args``: exit 0, streamed, and the output detected as
    ``fmt``."""
    from segmill.cli import main

    got = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / name), "--to", fmt, "-q", *args])
    assert got.exit_code == 0, got.output
    assert streams and segmill.formats.get_format(fmt).detect(tmp_path / name).confidence >= 0.5
    return tmp_path / name


def from_sa1b(tmp_path, fmt: str, src, streams, **write):
    """The SA-1B shard ``src`` to ``fmt`` as a stream and as a whole: the same files and reports."""
    a = segmill.convert(src, tmp_path / "s", to_format=fmt, options=ConvertOptions(write=write))
    assert streams and segmill.stream(src).bounded
    b = segmill.write(segmill.read(src), tmp_path / "w", fmt, **write)
    same_tree(tmp_path, a, b)
    assert a.items == b.items > 0
    return a
