"""Every rule: a dataset where it fires (at the expected place) and one where it stays quiet.

Each case is built in memory so it tests one rule and nothing else; the
planted-defects fixture (tests/test_check_fixture.py) tests them together.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from segmill.check import check, check_datasets, rules
from segmill.geometry import Box, InvalidGeometry, Polygons
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import encode

CATS = [Category(1, "car"), Category(2, "truck")]


def square(x, y, s):
    return Polygons([[x, y, x + s, y, x + s, y + s, x, y + s]])


def ann(aid, geom, cat=1, **kw):
    """An annotation whose stored area and bbox agree with a polygon/box geometry."""
    if isinstance(geom, (Polygons, Box)) and "area" not in kw:
        kw["area"] = geom.area
        kw["bbox"] = geom.bounds
    return Annotation(aid, cat, geom, **kw)


def img(iid, anns=(), w=100, h=100, name=None, **kw):
    return Item(iid, name or f"{iid}.png", w, h, list(anns), **kw)


def ds(*items, cats=None, **kw):
    return Dataset(categories=list(CATS if cats is None else cats), items=list(items), **kw)


def both_used(*items):
    """Make sure both default categories are used (so S010 stays out of the way)."""
    return ds(*items, img(999, [ann(9990, square(1, 1, 5), 1), ann(9991, square(50, 50, 5), 2)]))


def make_png(path, w, h):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (w, h)).save(path)


# Each case: code -> (bad builder, good builder, expected (item_id, annotation_id) of the bad finding).
# A builder takes tmp_path and returns (datasets-or-dataset, check kwargs).
CASES = {}


def case(code, where):
    def deco(fn):
        CASES[code] = (fn, where)
        return fn

    return deco


@case("S001", (1, None))
def s001(tmp, bad):
    return ds(img(1), img(1 if bad else 2, name="b.png"))


@case("S002", (2, 5))
def s002(tmp, bad):
    return ds(img(1, [ann(5, square(0, 0, 9))]), img(2, [ann(5 if bad else 6, square(0, 0, 9))]))


@case("S003", (None, None))
def s003(tmp, bad):
    return ds(cats=[Category(1, "car"), Category(1 if bad else 2, "truck")])


@case("S004", (1, 1))
def s004(tmp, bad):
    return ds(img(1, [ann(1, square(0, 0, 9), cat=9 if bad else 1)]))


@case("S004-void", (1, 1))
def s004_void(tmp, bad):
    """A void region (VOC 255) has no class on purpose."""
    return ds(img(1, [Annotation(1, None, square(0, 0, 9), attributes={} if bad else {"void": True})]))


@case("S005", (9, 7))
def s005(tmp, bad):
    orphans = [(9, Annotation(7, 1, square(0, 0, 5)))] if bad else []
    return ds(img(1), meta={"orphan_annotations": orphans})


@case("S006", (2, None))
def s006(tmp, bad):
    return ds(img(1, name="dir/a.png"), img(2, name="dir\\A.png" if bad else "dir/b.png"))


@case("S007", (2, None))
def s007(tmp, bad):
    make_png(tmp / "a.png", 100, 100)
    if not bad:
        make_png(tmp / "b.png", 100, 100)
    return ds(img(1, name="a.png"), img(2, name="b.png")), {"path": tmp / "ann.json"}


@case("S008", (1, None))
def s008(tmp, bad):
    make_png(tmp / "a.png", 100 if not bad else 80, 100)
    return ds(img(1, name="a.png")), {"path": tmp / "ann.json"}


@case("S009", (None, None))
def s009(tmp, bad):
    return ds(cats=[Category(1, " " if bad else "car")])


@case("S010", (None, None))
def s010(tmp, bad):
    anns = [ann(1, square(0, 0, 9), 1)] + ([] if bad else [ann(2, square(50, 50, 9), 2)])
    return ds(img(1, anns))


@case("S011", (1, None))
def s011(tmp, bad):
    return ds(Item(1, "a.png", 0 if bad else 10, 10))


@case("S011-unknown", (1, None))
def s011_unknown(tmp, bad):
    """No size at all matters only when there are annotations to place."""
    anns = [Annotation(1, 1, square(0, 0, 5))] if bad else []
    return ds(Item(1, "a.png", None, None, anns))


@case("S012", (1, None))
def s012(tmp, bad):
    make_png(tmp / "data" / "a.png", 100, 100)
    return ds(img(1, name="../a.png" if bad else "a.png")), {"path": tmp / "data" / "ann.json"}


@case("S013", (None, None))
def s013(tmp, bad):
    if not bad:
        make_png(tmp / "a.png", 100, 100)
    return ds(img(1, name="a.png"), img(2, name="b.png")), {"path": tmp / "ann.json", "select": ["S013"]}


@case("S014", (None, None))
def s014(tmp, bad):
    reason = "image width must be a non-negative integer, got '640'" if bad else "bbox is malformed (kept)"
    return ds(meta={"skipped": [{"path": "ann.json", "record": "image id 4", "reason": reason}]})


def _invalid_case(code, raw):
    @case(code, (1, 1))
    def fn(tmp, bad):
        geom = InvalidGeometry(raw, "kept by a lenient reader") if bad else square(0, 0, 9)
        return ds(img(1, [ann(1, geom)]))

    return fn


_invalid_case("G001", [[10, 10, 20, 20]])
_invalid_case("G002", [[10, 10, 20, 10, 20]])
_invalid_case("G003", [[10, math.nan, 20, 10, 20, 20]])
_invalid_case("G009", {"size": [100, 100], "counts": [3, 4]})
_invalid_case("G010", "person")


@case("G007-refused", (1, 1))
def g007_refused(tmp, bad):
    """A reader that refuses out-of-range coordinates (YOLO) keeps the reason."""
    geom = InvalidGeometry([[0.1, 1.2, 0.5, 0.5, 0.2, 0.3]], "coordinate 1.2 is outside [0, 1]") if bad \
        else square(0, 0, 9)
    return ds(img(1, [ann(1, geom)]))


@case("G004", (1, 1))
def g004(tmp, bad):
    return ds(img(1, [Annotation(1, 1, None if bad else square(0, 0, 9))]))


@case("G005", (1, 1))
def g005(tmp, bad):
    geom = Polygons([[10, 10, 20, 10, 30, 10]]) if bad else square(10, 10, 10)
    return ds(img(1, [ann(1, geom)]))


@case("G006", (1, 1))
def g006(tmp, bad):
    bowtie = Polygons([[0, 0, 10, 10, 10, 0, 0, 10]])
    # A square with a square hole joined by a zero-width bridge: touches itself, never crosses.
    bridged = Polygons([[0, 0, 10, 0, 10, 10, 0, 10, 0, 5, 3, 5, 3, 7, 7, 7, 7, 3, 3, 3, 3, 5, 0, 5]])
    return ds(img(1, [Annotation(1, 1, bowtie if bad else bridged)]))


@case("G007", (1, 1))
def g007(tmp, bad):
    geom = Polygons([[-5, 10, 20, 10, 20, 20]]) if bad else Polygons([[0, 0, 100, 0, 100, 100]])
    return ds(img(1, [Annotation(1, 1, geom)]))


@case("G008", (1, 1))
def g008(tmp, bad):
    n = 10 if bad else 100
    m = np.zeros((n, n), bool)
    m[2:5, 2:5] = True
    return ds(img(1, [Annotation(1, 1, encode(m))]))


@case("G011", (1, 1))
def g011(tmp, bad):
    return ds(img(1, [ann(1, square(10, 10, 10), bbox=(0, 0, 50, 50) if bad else (10, 10, 10, 10), area=100.0)]))


@case("G012", (1, 1))
def g012(tmp, bad):
    return ds(img(1, [ann(1, square(10, 10, 10), area=10000.0 if bad else 100.4, bbox=(10, 10, 10, 10))]))


@case("G013", (1, 1))
def g013(tmp, bad):
    speck = [40, 40, 41, 40, 40, 41] if bad else [40, 40, 50, 40, 50, 50]
    return ds(img(1, [ann(1, Polygons([[10, 10, 20, 10, 20, 20, 10, 20], speck]))]))


@case("G014", (1, 1))
def g014(tmp, bad):
    m = np.zeros((100, 100), bool)
    m[10:20, 10:20] = True
    geom = square(10, 10, 10) if bad else encode(m)
    return ds(img(1, [Annotation(1, 1, geom, iscrowd=True)]))


@case("G015", (1, 1))
def g015(tmp, bad):
    return ds(img(1, [ann(1, square(10, 10, 10), bbox=(10, 10, -10, 10) if bad else (10, 10, 10, 10), area=100.0)]))


@case("G016", (1, 1))
def g016(tmp, bad):
    return ds(img(1, [ann(1, square(10, 10, 10), area=-100.0 if bad else 100.0, bbox=(10, 10, 10, 10))]))


@case("C001", (1, 2))
def c001(tmp, bad):
    second = square(5, 0, 20) if bad else square(16, 0, 20)  # 75% vs 20% of the smaller one
    return ds(img(1, [ann(1, square(0, 0, 20)), ann(2, second, cat=2)]))


@case("C002", (1, 2))
def c002(tmp, bad):
    second = square(0, 0, 20) if bad else square(5, 0, 20)
    return ds(img(1, [ann(1, square(0, 0, 20)), ann(2, second)]))


@case("C003", (1, 2))
def c003(tmp, bad):
    return ds(img(1, [ann(1, square(0, 0, 20)), ann(2, square(0, 0, 20), cat=2 if bad else 1)]))


@case("C004", (None, None))
def c004(tmp, bad):
    return ds(cats=[Category(1, "traffic_light"), Category(2, "Traffic Lights" if bad else "truck")])


@case("C005", (None, None))
def c005(tmp, bad):
    train = ds(cats=[Category(3, "dog")])
    val = ds(cats=[Category(5 if bad else 3, "dog")])
    return [(train, "train.json"), (val, "val.json")]


@case("C006", (None, None))
def c006(tmp, bad):
    cats = [Category(0, "background", color=(0, 0, 0)), Category(1, "cat", color=(64, 0, 0))]
    palette = [(0, 0, 0), (128, 0, 0) if bad else (64, 0, 0)]
    return ds(cats=cats, meta={"palette": palette})


@case("C007-class-map", (1, 1))
def c007(tmp, bad):
    cmap = np.zeros((100, 100), np.int64)
    cmap[10:20, 10:20] = 2 if bad else 1
    return ds(img(1, [ann(1, square(10, 10, 10))], attributes={"class_map": cmap}))


@case("C008", (1, 99))
def c008(tmp, bad):
    rng = np.random.default_rng(0)
    anns = [ann(k, square(0, 0, float(rng.uniform(18, 22)))) for k in range(30)]
    anns.append(ann(99, square(0, 0, 0.3 if bad else 20)))
    return ds(*[img(k + 1, [a]) for k, a in enumerate(anns[:-1])], img(1, [anns[-1]], name="x.png")), \
        {"select": ["C008"]}


@case("C007", (1, 3))
def c007_voc(tmp, bad):
    """The VOC reader's form: instance 1 split over two classes by the class mask."""
    m1 = np.zeros((100, 100), bool)
    m1[10:20, 10:20] = True
    m2 = np.zeros((100, 100), bool)
    m2[10:12, 20:22] = True
    anns = [Annotation(1, 1, encode(m1), extra={"voc_instance": 1})]
    if bad:
        anns.append(Annotation(3, 2, encode(m2), extra={"voc_instance": 1}))
    else:
        anns.append(Annotation(3, 2, encode(m2), extra={"voc_instance": 2}))
    return ds(img(1, anns))


@case("C007-semantic-leftover", (1, 4))
def c007_leftover(tmp, bad):
    """Class pixels outside every instance: a disagreement for a thing class, fine for stuff."""
    m1 = np.zeros((100, 100), bool)
    m1[10:20, 10:20] = True
    m2 = np.zeros((100, 100), bool)
    m2[50:60, 50:60] = True
    anns = [Annotation(1, 1, encode(m1), extra={"voc_instance": 1}),
            Annotation(4, 1 if bad else 2, encode(m2), extra={"voc_semantic": True})]
    return ds(img(1, anns))


@case("C009", (1, None))
def c009(tmp, bad):
    return ds(img(1, [], attributes={"segmented": 1 if bad else 0}))


@case("C009-voc-boxes-only", (1, None))
def c009_voc(tmp, bad):
    """VOC: segmented 1 in the XML but only a box (no mask) is still missing its segmentation."""
    item = img(1, [ann(1, Box(10, 10, 5, 5))])
    item.extra["voc_xml"] = {"segmented": "1" if bad else "0"}
    return ds(item)


def test_every_rule_has_a_case():
    assert sorted({c[:4] for c in CASES}) == [r.code for r in rules()]


def _run(code, tmp_path, bad):
    fn, _ = CASES[code]
    built = fn(tmp_path, bad)
    target, kwargs = built if isinstance(built, tuple) else (built, {})
    kwargs.setdefault("select", [code[:4]])
    if isinstance(target, list):
        return check_datasets(target, select=kwargs["select"])
    return check(target, **kwargs)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires_on_its_defect(code, tmp_path):
    result = _run(code, tmp_path, bad=True)
    mine = [f for f in result.findings if f.code == code[:4]]
    assert len(mine) == 1, [f.message for f in result.findings]
    assert (mine[0].item_id, mine[0].annotation_id) == CASES[code][1]


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_is_quiet_on_the_fixed_data(code, tmp_path):
    result = _run(code, tmp_path, bad=False)
    assert [f.message for f in result.findings if f.code == code[:4]] == []
