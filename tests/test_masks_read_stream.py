"""Mask folders read as a stream (``masks.stream``): a first pass over the semantic maps' headers, then one image at
a time.

The oracle is the whole read (``tests/_read_stream.py``): the same
items, categories and meta (``masks_mode``, stated by the header before the
first item), the same error for a malformed map, raised after the items
before it; the same ``segmill check`` findings and converted bytes.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats import _png, masks
from segmill.transforms import streamed

_spec = importlib.util.spec_from_file_location("_read_stream", Path(__file__).with_name("_read_stream.py"))
O = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(O)
FIXTURE = Path(__file__).parent.parent / "fixtures" / "masks"
FMT = "masks"

same = partial(O.same_as_read, fmt=FMT)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """Mask folders written from one synthetic dataset, one per semantic map mode; an image for some maps."""
    root = tmp_path_factory.mktemp("masks-built")
    ds = O.synthetic(root)
    out = {}
    for mode in ("L", "P", "I;16"):
        out[mode] = root / mode.replace(";", "")
        segmill.write(ds, out[mode], FMT, mode=mode)
    (out["L"] / "images").mkdir()
    for m in sorted((out["L"] / "semantic").glob("*.png"))[::2]:
        Image.new("RGB", (5, 4)).save(out["L"] / "images" / f"{m.stem}.jpg")
    return out


@pytest.fixture
def copy(built, tmp_path):
    """``copy(mode)``: a fresh copy of a built folder to change."""
    def make(mode: str = "L", name: str = "ds") -> Path:
        dst = tmp_path / name
        shutil.copytree(built[mode], dst)
        return dst
    return make


def _maps(root: Path, sub: str = "semantic") -> list[Path]:
    return sorted((root / sub).glob("*.png"))


# ------------------------------------------------------------------ datasets that read
def test_the_fixture_streams_as_it_reads():
    ds = same(FIXTURE)
    assert len(ds.items) == 2 and ds.meta["masks_mode"] == "L"


@pytest.mark.parametrize("mode", ["L", "P", "I;16"])
def test_built_sets_stream_as_they_read(built, mode):
    ds = same(built[mode])
    assert len(ds.items) == 7 and ds.num_annotations > 20 and ds.meta["masks_mode"] == mode


def test_mixed_modes_and_maps_without_a_semantic_map(copy):
    root = copy("L")
    shutil.copyfile(_maps(copy("P", "p"), "semantic")[2], _maps(root)[2])
    ds = same(root)
    assert "masks_mode" not in ds.meta
    root = copy("L", "b")
    _maps(root)[3].unlink()  # an image with an instance map only: its classes from instances.json
    assert "masks_mode" not in same(root).meta


def test_only_instance_maps_and_instances_json(copy):
    root = copy("L")
    shutil.rmtree(root / "semantic")
    ds = same(root)
    assert ds.meta["masks_mode"] is None and ds.num_annotations > 20


def test_a_flat_folder_and_options(copy, tmp_path):
    root = copy("I;16")
    shutil.rmtree(root / "instances")
    for m in _maps(root):
        m.rename(root / m.name)
    (root / "semantic").rmdir()
    ds = same(root)
    assert ds.meta["masks_layout"] == "flat"
    lines = (root / "classes.txt").read_text()
    (tmp_path / "labels.txt").write_text(lines)
    same(root, labels=tmp_path / "labels.txt", background=3, ignore_value=1000)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=O.datasets(max_images=4, max_annotations=4))
def test_random_datasets_written_as_masks_stream_as_they_read(data):
    O.written_as_read(data[0], FMT)


# ------------------------------------------------------------------ one image at a time
def test_items_come_one_image_at_a_time(copy, monkeypatch):
    root = copy("P")
    calls, decodes = [], []
    real_item, real_open = masks._item, _png.images.open_image
    monkeypatch.setattr(masks, "_item", lambda folder, stem, nid: calls.append(stem) or real_item(folder, stem, nid))
    monkeypatch.setattr(_png.images, "open_image", lambda *a, **k: decodes.append(a[0]) or real_open(*a, **k))
    st = segmill.stream(root, FMT)
    assert st.bounded and calls == [] and decodes == []  # the header: map headers only, nothing decoded
    assert st.header.meta["masks_mode"] == "P" and getattr(st._items, "ids_unique", False)
    it = iter(st)
    first = next(it)
    assert calls == [first.id] and len(decodes) == 2  # its semantic and instance maps
    rest = list(it)
    assert len(calls) == 1 + len(rest) == 7


def test_lenient_modes_read_whole(built):
    for errors in ("skip", "keep"):
        assert masks.stream(built["L"], errors=errors) is None
        st = segmill.stream(built["L"], FMT, errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(built["L"], FMT, errors=errors)


def test_maps_changed_between_the_passes_are_refused(copy):
    root = copy("L")
    st = segmill.stream(root, FMT)
    m = _maps(root)[-1]
    Image.fromarray(np.array(Image.open(m)).astype(np.uint16)).save(m)
    with pytest.raises(InputError, match="the mask files changed while they were read"):
        st.to_dataset()


# ------------------------------------------------------------------ the same errors, after the items before
def _truncated(root, stem):
    m = root / "semantic" / f"{stem}.png"
    m.write_bytes(m.read_bytes()[:60])


def _unknown_value(root, stem):
    m = root / "semantic" / f"{stem}.png"
    a = np.array(Image.open(m))
    a[0, 0] = 200
    Image.fromarray(a).save(m)


def _rgb(root, stem):
    m = root / "semantic" / f"{stem}.png"
    Image.open(m).convert("RGB").save(m)


def _other_size(root, stem):
    m = root / "instances" / f"{stem}.png"
    Image.open(m).crop((0, 0, 10, 10)).save(m)


def _no_semantic_bad_json_class(root, stem):
    (root / "semantic" / f"{stem}.png").unlink()
    doc = json.loads((root / "instances.json").read_text())
    doc[stem] = {"1": "no such class"}
    (root / "instances.json").write_text(json.dumps(doc))


def _link_out(root, stem):
    m = root / "semantic" / f"{stem}.png"
    m.unlink()
    m.symlink_to(root.parent / "elsewhere.png")


@pytest.mark.parametrize("breaker", [_truncated, _unknown_value, _rgb, _other_size, _no_semantic_bad_json_class,
                                     _link_out])
@pytest.mark.parametrize("at", [0, 3, 6])
def test_a_bad_map_raises_the_reads_error_after_the_images_before_it(copy, breaker, at):
    root = copy("L")
    (root.parent / "elsewhere.png").write_bytes(b"")
    whole = segmill.read(root, FMT)
    breaker(root, whole.items[at].id)
    O.fails_alike(root, FMT, 0 if breaker is _link_out else at, whole)  # a link out: refused as maps are listed


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(copy, monkeypatch):
    monkeypatch.setattr(streamed, "BATCH", 2)
    O.same_check(copy("P"), FMT)


@pytest.mark.parametrize("to", ["masks", "image_masks"])
def test_convert_streams_the_bytes_of_the_whole_write(built, tmp_path, to):
    O.same_convert(built["L"], FMT, to, tmp_path)
