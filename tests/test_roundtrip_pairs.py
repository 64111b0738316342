"""Every reader/writer pair on random datasets: what no loss code names does not change.

A random canonical :class:`~segmill.model.Dataset` (images of random sizes,
some without annotations; categories with sparse ids; single- and multi-part
polygons with vertices on the 1/10-pixel lattice, so that many lie exactly on
pycocotools' 1/5-pixel snapping boundaries; crowd RLEs) is written in format
A, read back, written in format B and read back. The oracle is the source
itself: pycocotools' ``frPyObjects`` + ``merge`` + ``decode`` of the source
polygons, and the crowd masks as built.

Compared, per image (paired by file stem): the pixels of every instance, its
class name and its crowd flag; for the dataset: the image set and the classes
(id and name). Every difference must be named by a reported loss code of the
matching kind (:data:`CHANGES`); with no loss reported, everything is equal.

Label-map formats (``voc``, ``masks``) store label value 0 as a class named
``background``; that class, without annotations, is not counted as a change.
The results format (``coco_results``) holds detections of a dataset, not a
dataset, and is tested in ``test_coco_results.py``.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats import formats, get_format
from segmill.geometry import Box, Polygons, Shape
from segmill.model import Annotation, Category, Dataset, Item
from segmill.losses import CHANGE_KINDS, all_codes, changes_of
from segmill.rle import from_coco

FORMATS = sorted(n for n, s in formats().items() if s.read and s.write and n != "coco_results")
def _label_map_writers() -> frozenset:
    """Writers whose files hold a class value per pixel: what they write reads back with a ``background`` 0."""
    with tempfile.TemporaryDirectory() as tmp:
        ds = Dataset([Category(1, "a")], [Item(1, "img_0.png", 4, 4, [Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 4]]))])])
        found = set()
        for name in FORMATS:
            out = Path(tmp) / (name + (".json" if get_format(name).output == "file" else ""))
            segmill.write(ds, out, name)
            if any(c.id == 0 and c.name == "background" for c in segmill.read(out, name, errors="skip").categories):
                found.add(name)
    return frozenset(found)


LABEL_MAPS = _label_map_writers()

#: Which loss codes may explain which kind of change: declared with the codes (``register_codes(changes=)``).
CHANGES = {kind: {c for c in all_codes() if kind in changes_of(c)} for kind in CHANGE_KINDS}

#: Pairs (A, B) where a known bug makes the property fail: the bug, named (xfail strict).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


# ------------------------------------------------------------------ random datasets
def _coords(max_tenths: int, margin: int = 0):
    # tenths of a pixel: x.1, x.3 ... lie exactly on the 1/5-pixel snapping boundaries (5x + 0.5 integral);
    # ``margin`` tenths outside the image on either side (COCO allows them; YOLO clips them, L310)
    return st.integers(-margin, max_tenths + margin).map(lambda k: k / 10)


@st.composite
def _ring(draw, w: int, h: int) -> list[float]:
    n = draw(st.integers(3, 6))
    xs = draw(st.lists(_coords(10 * w, 3), min_size=n, max_size=n))
    ys = draw(st.lists(_coords(10 * h, 3), min_size=n, max_size=n))
    return [v for xy in zip(xs, ys) for v in xy]


def oracle_pixels(parts: list[list[float]], h: int, w: int) -> np.ndarray:
    """pycocotools' mask of a (multi-part) polygon: ``frPyObjects``, ``merge``, ``decode``."""
    return mask_util.decode(mask_util.merge(mask_util.frPyObjects(parts, h, w))).astype(bool)


@st.composite
def _annotation(draw, w: int, h: int, cat_ids: list[int]):
    parts = draw(st.lists(_ring(w, h), min_size=1, max_size=3))
    crowd = draw(st.integers(0, 4)) == 0  # one in five a crowd region
    pixels = oracle_pixels(parts, h, w)
    if not pixels.any():  # an annotation without pixels: not what this property is about
        return None
    cid = draw(st.sampled_from(cat_ids))
    if crowd:
        rle = mask_util.encode(np.asfortranarray(pixels.astype(np.uint8)))
        geometry = from_coco({"size": [h, w], "counts": rle["counts"].decode()})
    else:
        geometry = Polygons(parts)
    return cid, geometry, bool(crowd), pixels


@st.composite
def datasets(draw, max_images: int = 3, max_annotations: int = 3):
    """``(dataset, oracle)``: a random dataset and, per image stem, its (class, crowd, pixels) list."""
    ids = draw(st.lists(st.integers(1, 90), min_size=1, max_size=3, unique=True))
    cats = [Category(i, f"class{i:02d}") for i in ids]
    items, oracle, next_id = [], {}, 1
    for k in range(draw(st.integers(1, max_images))):
        w, h = draw(st.integers(4, 40)), draw(st.integers(4, 40))
        item = Item(k + 1, f"img_{k}.png", w, h)
        oracle[f"img_{k}"] = []
        for ann in draw(st.lists(_annotation(w, h, ids), max_size=max_annotations)):
            if ann is None:
                continue
            cid, geometry, crowd, pixels = ann
            item.annotations.append(Annotation(next_id, cid, geometry, iscrowd=crowd))
            oracle[f"img_{k}"].append((f"class{cid:02d}", crowd, _digest(pixels)))
            next_id += 1
        items.append(item)
    classes = sorted((c.id, c.name) for c in cats)
    return Dataset(categories=cats, items=items), (oracle, classes)


def _digest(pixels: np.ndarray) -> str:
    return f"{pixels.shape}:{hashlib.sha1(np.packbits(pixels.astype(bool)).tobytes()).hexdigest()}"


def _save_images(ds: Dataset, root: Path) -> None:
    """Black images of each item's size under ``root/images`` (YOLO needs them), named in ``meta``."""
    folder = root / "images"
    folder.mkdir(parents=True)
    for item in ds.items:
        Image.new("RGB", (item.width, item.height)).save(folder / item.file_name)
    ds.meta["image_root"] = str(folder)


# ------------------------------------------------------------------ what came back
def _stem(file_name: str) -> str:
    return Path(file_name).stem.removesuffix("_leftImg8bit")  # Cityscapes' image suffix


def _pixels_of(ann: Annotation, h: int, w: int) -> np.ndarray:
    """Pixels of a read-back annotation; polygons rasterized by pycocotools, masks decoded."""
    g = ann.geometry
    if isinstance(g, Polygons):
        return oracle_pixels([p.reshape(-1).tolist() for p in g.parts], h, w)
    if isinstance(g, Box):
        box = np.array([[g.x, g.y, g.w, g.h]], dtype=np.float64)
        return mask_util.decode(mask_util.frPyObjects(box, h, w))[:, :, 0].astype(bool)
    return ann.to_rle(h, w).decode().astype(bool)


def profile(ds: Dataset, target: str):
    """``(per image stem: [(class, crowd, pixel digest)], sorted (id, name) classes)`` of a read-back dataset."""
    names = {c.id: c.name for c in ds.categories}
    images = {}
    for item in ds.items:
        images[_stem(item.file_name)] = [
            (names.get(a.category_id), bool(a.iscrowd), _digest(_pixels_of(a, item.height, item.width)))
            for a in item.annotations if not isinstance(a.geometry, Shape)]
    used = {a.category_id for _, a in ds.annotations()}
    classes = sorted((c.id, c.name) for c in ds.categories
                     if not (target in LABEL_MAPS and c.name == "background" and c.id == 0 and c.id not in used))
    return images, classes


def differences(expected, got) -> dict[str, str]:
    """What changed between the oracle and a read-back profile: ``{kind: an example}``."""
    (e_img, e_cls), (g_img, g_cls) = expected, got
    out = {}
    if set(e_img) != set(g_img):
        out["images"] = f"{sorted(e_img)} -> {sorted(g_img)}"
    if e_cls != g_cls:
        out["classes"] = f"{e_cls} -> {g_cls}"
    for stem in sorted(set(e_img) & set(g_img)):
        a, b = e_img[stem], g_img[stem]
        if Counter(px for _, _, px in a) != Counter(px for _, _, px in b):
            out.setdefault("pixels", f"image {stem}: {len(a)} instances -> {len(b)}, pixels differ")
        elif Counter((n, px) for n, _, px in a) != Counter((n, px) for n, _, px in b):
            out.setdefault("instance classes", f"image {stem}: {sorted(n for n, _, _ in a)} -> "
                                               f"{sorted(n for n, _, _ in b)}")
        elif Counter(a) != Counter(b):
            out.setdefault("crowd", f"image {stem}: crowd flags {sorted(c for _, c, _ in a)} -> "
                                    f"{sorted(c for _, c, _ in b)}")
    return out


def _out(root: Path, name: str, fmt: str) -> Path:
    return root / (f"{name}.json" if get_format(fmt).output == "file" else name)


def check_pair(ds: Dataset, oracle, a: str, b: str, root: Path) -> None:
    """Write ``ds`` as ``a``, read it, write that as ``b``, read it; assert the property."""
    _save_images(ds, root)
    report_a = segmill.write(ds, _out(root, "a", a), a)
    mid = segmill.read(_out(root, "a", a), a)
    report_b = segmill.write(mid, _out(root, "b", b), b)
    codes = set(report_a.summary()) | set(report_b.summary())
    try:
        back = segmill.read(_out(root, "b", b), b)
    except InputError as exc:
        assert codes & CHANGES["images"], f"{a} -> {b}: output unreadable ({exc}) with losses {sorted(codes)}"
        return
    for kind, what in differences(oracle, profile(back, b)).items():
        assert codes & CHANGES[kind], f"{a} -> {b}: {kind} changed ({what}) but the losses were {sorted(codes)}"


def _pair_params(slow: bool = False):
    out = []
    for a in FORMATS:
        for b in FORMATS:
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(a, b)])] if (a, b) in KNOWN_BUGS else []
            if slow:
                marks.append(pytest.mark.slow)
            out.append(pytest.param(a, b, marks=marks, id=f"{a}->{b}"))
    return out


_QUICK = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
_SLOW = settings(max_examples=30, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize(("a", "b"), _pair_params())
@_QUICK
@given(data=datasets())
def test_pair_changes_only_what_the_losses_name(a, b, data):
    ds, oracle = data
    with tempfile.TemporaryDirectory(prefix="segmill-pair-") as tmp:
        check_pair(ds, oracle, a, b, Path(tmp))


@pytest.mark.parametrize(("a", "b"), _pair_params(slow=True))
@_SLOW
@given(data=datasets(max_images=4, max_annotations=5))
def test_pair_changes_only_what_the_losses_name_many_examples(a, b, data):
    ds, oracle = data
    with tempfile.TemporaryDirectory(prefix="segmill-pair-") as tmp:
        check_pair(ds, oracle, a, b, Path(tmp))


# ------------------------------------------------------------------ COCO -> YOLO -> COCO exactly
def _coco_yolo_coco(width: int, height: int, ring: list[float], root: Path):
    ds = Dataset(categories=[Category(1, "thing")],
                 items=[Item(1, "im.png", width, height, annotations=[Annotation(1, 1, Polygons([ring]))])])
    _save_images(ds, root)
    r1 = segmill.write(ds, root / "a.json", "coco")
    r2 = segmill.write(segmill.read(root / "a.json", "coco"), root / "y", "yolo")
    r3 = segmill.write(segmill.read(root / "y", "yolo"), root / "b.json", "coco")
    back = segmill.read(root / "b.json", "coco")
    return [*r1.losses, *r2.losses, *r3.losses], back


@st.composite
def _single_part(draw):
    w, h = draw(st.integers(1, 2000)), draw(st.integers(1, 2000))
    n = draw(st.integers(3, 8))
    # tenths (half of them on snapping boundaries) and arbitrary floats with 2 decimals
    coord = lambda m: st.one_of(_coords(10 * m), st.integers(0, 100 * m).map(lambda k: k / 100))
    xs = draw(st.lists(coord(w), min_size=n, max_size=n))
    ys = draw(st.lists(coord(h), min_size=n, max_size=n))
    return w, h, [v for xy in zip(xs, ys) for v in xy]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(case=_single_part())
@example(case=(427, 100, [26.7, 10.0, 60.0, 10.0, 26.7, 80.0]))  # 26.7 / 427 written 0.062529 read 26.699883
@example(case=(640, 480, [29.9, 10.0, 300.0, 10.0, 29.9, 400.0]))  # on a boundary: 29.89999968 snaps down
@example(case=(6, 6, [1.7, 0.0, 6.0, 0.0, 1.7, 6.0]))  # 1.7 / 6 has no decimal that multiplies back
@example(case=(427, 427, [0.1, 0.1, 426.9, 0.3, 213.5, 426.9]))
def test_coco_yolo_coco_is_exact_on_single_part_polygons(case):
    w, h, ring = case
    with tempfile.TemporaryDirectory(prefix="segmill-yolo-") as tmp:
        losses, back = _coco_yolo_coco(w, h, ring, Path(tmp))
    assert not losses, [str(x) for x in losses]
    (item,) = back.items
    (ann,) = item.annotations
    assert [(c.id, c.name) for c in back.categories] == [(1, "thing")]
    assert (item.width, item.height, ann.iscrowd, ann.category_id) == (w, h, False, 1)
    expected = oracle_pixels([ring], h, w)
    assert np.array_equal(_pixels_of(ann, h, w), expected)
    assert ann.to_rle(h, w) == from_coco(mask_util.encode(np.asfortranarray(expected.astype(np.uint8))))


def test_yolo_reports_vertices_outside_the_image_and_keeps_the_rest_exact(tmp_path):
    # 0.385 px right of a 427-wide image: clipped to 1.0 with L310 (never 1.00103, which no reader accepts)
    losses, back = _coco_yolo_coco(427, 100, [10.0, 10.0, 427.385, 10.0, 200.0, 90.0], tmp_path)
    assert [x.code for x in losses] == ["L310"]
    (ann,) = back.items[0].annotations
    assert float(np.max(ann.geometry.parts[0][:, 0])) == 427.0


# ------------------------------------------------------------------ an instance without pixels
_NO_PIXELS: dict = {}  # formats known to drop a pixel-less instance silently (none now)


@pytest.mark.parametrize("fmt", [pytest.param(f, marks=[pytest.mark.xfail(strict=True, reason=_NO_PIXELS[f])]
                                              if f in _NO_PIXELS else []) for f in FORMATS])
def test_an_instance_without_pixels_reads_back_or_is_reported(fmt, tmp_path):
    # a sliver around no pixel centre: pycocotools gives it no pixel
    ring = [1.0, 1.0, 1.2, 1.0, 1.1, 1.2]
    assert not oracle_pixels([ring], 8, 10).any()
    ds = Dataset([Category(1, "thing")], [Item(1, "img_0.png", 10, 8, [Annotation(1, 1, Polygons([ring]))])])
    _save_images(ds, tmp_path)
    report = segmill.write(ds, _out(tmp_path, "o", fmt), fmt)
    back = segmill.read(_out(tmp_path, "o", fmt), fmt)
    kept = [a for _, a in back.annotations()]
    if not kept:
        assert set(report.summary()) & CHANGES["pixels"], report.summary()
    else:
        (ann,) = kept
        assert ann.geometry is not None and not _pixels_of(ann, 8, 10).any()


def test_yolo_writes_a_box_beside_a_mask_as_a_polygon_so_the_file_reads_back(tmp_path):
    # found by the pair property (voc -> yolo): an instance overpainted in VOC reads back as its XML box,
    # beside masks; the box was written as a 4-value box line in a file of polygon lines
    from segmill.rle import from_polygons

    ds = Dataset([Category(1, "t")], [Item(1, "img_0.png", 10, 8, [
        Annotation(1, 1, Box(1, 1, 3, 3)), Annotation(2, 1, from_polygons([[5, 1, 9, 1, 9, 6]], 8, 10))])])
    _save_images(ds, tmp_path)
    report = segmill.write(ds, tmp_path / "y", "yolo")
    assert set(report.summary()) == {"L305"}
    back = segmill.read(tmp_path / "y", "yolo")
    got = sorted(_digest(_pixels_of(a, 8, 10)) for _, a in back.annotations())
    assert got == sorted(_digest(a.to_rle(8, 10).decode().astype(bool)) for _, a in ds.annotations())


@pytest.mark.parametrize("fmt", sorted(LABEL_MAPS))
@pytest.mark.parametrize(("ids", "reported"), [((0, 1, 2), False), ((1, 2), True), ((0, 5), True)])
def test_label_map_writers_report_category_ids_they_renumber(fmt, ids, reported, tmp_path):
    # found by the pair property (coco -> voc -> coco): ids 10, 20 came back 1, 2 (and a background 0) unreported
    names = {0: "background", 1: "a", 2: "b", 5: "e"}
    ds = Dataset([Category(i, names[i]) for i in ids], [Item(1, "img_0.png", 4, 4, [
        Annotation(1, ids[-1], Polygons([[0, 0, 4, 0, 4, 4]]))])])
    report = segmill.write(ds, tmp_path / "o", fmt)
    back = segmill.read(tmp_path / "o", fmt)
    same = sorted((c.id, c.name) for c in back.categories) == sorted((c.id, c.name) for c in ds.categories)
    assert ("L208" in report.summary()) == reported == (not same)


def test_mask_folders_name_images_by_their_file_not_by_a_split_id(tmp_path):
    # found by the pair property (yolo -> masks): item "train/img_0" was written as train_img_0.png
    ds = Dataset([Category(0, "background"), Category(1, "a")],
                 [Item("train/img_0", "images/train/img_0.png", 4, 4, [Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 4]]))])])
    segmill.write(ds, tmp_path / "m", "masks")
    assert [it.file_name for it in segmill.read(tmp_path / "m", "masks").items] == ["img_0.png"]
