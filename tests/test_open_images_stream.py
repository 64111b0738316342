"""Open Images read as a stream (``open_images.stream``): a compact index, then one image at a time, equal to ``read``.

The oracle is the whole read: the same items, categories and meta (the
resized-mask count the header states before the first item), the same error
(message, file, record) for a malformed dataset, raised after some items;
the same ``segmill check`` findings; a streamed conversion writes the bytes
of the whole write. Datasets are built here with the rows of an image
scattered through several CSVs' worth of rows, quoted fields over several
lines, blank lines, a BOM and CR / CRLF line ends.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats import _open_images_stream, open_images

_spec = importlib.util.spec_from_file_location("_read_stream", Path(__file__).with_name("_read_stream.py"))
R = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(R)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "open_images" / "basic"
HEADER = ["MaskPath", "ImageID", "LabelName", "BoxID", "BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax", "PredictedIoU",
          "Clicks"]
MIDS = ["/m/a", "/m/b", "/m/c", "/m/undescribed", "/m/d"]


def same_as_read(path, **options):
    """The stream of ``path`` gives what :func:`segmill.read` gives (or its error); the dataset read."""
    whole, err = R.outcome(lambda: segmill.read(path, "open_images", **options))
    st, serr = R.outcome(lambda: segmill.stream(path, "open_images", **options))
    if serr is None:
        assert st.bounded
        if err is None:  # what the header says before the first item
            assert st.header.meta == whole.meta and st.header.categories == whole.categories
        got, serr = R.outcome(st.to_dataset)
    assert serr == err
    if err is None:
        assert got == whole and got.meta == whole.meta and got.items == whole.items
    return whole


def streamed_until_error(path):
    """The items a stream of ``path`` yields, and the error it raises after them (or None)."""
    items = []
    try:
        for item in segmill.stream(path, "open_images"):
            items.append(item)
    except InputError as exc:
        return items, (exc.message, str(exc.path), exc.record, type(exc))
    return items, None


# ------------------------------------------------------------------ built datasets
def build(root: Path, seed: int, n_images: int = 12, n_rows: int = 45, newline: str = "\n", bom: bool = False):
    """An Open Images folder: images in two splits (and a third CSV for train), rows of an image scattered."""
    rng = np.random.default_rng(seed)
    ann = root / "annotations"
    ann.mkdir(parents=True)
    splits, sizes, meta = {}, {}, []
    for i in range(n_images):
        iid = f"{seed:04x}{i:012x}"
        splits[iid] = "train" if rng.random() < 0.6 else "validation"
        sizes[iid] = (int(rng.integers(2, 9)), int(rng.integers(2, 9)))
        if rng.random() < 0.7:
            f = root / "images" / splits[iid] / f"{iid}.png"
            f.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", sizes[iid][::-1]).save(f)
        else:
            meta.append(f"{iid} {sizes[iid][0]} {sizes[iid][1]}")
    (ann / "images.meta").write_text("# ImageID height width\n" + "\n".join(meta) + "\n")
    (ann / "oidv6-class-descriptions.csv").write_text(
        "LabelName,DisplayName\n/m/d,Dee\n/m/a,Ay\n/m/b,Bee\n/m/c,Cee\n/m/unused,Unused\n")
    csvs: dict = {"train": [], "oidv6-train": [], "validation": []}
    ids = list(splits)
    for r in range(n_rows):
        iid = ids[int(rng.integers(len(ids)))]
        name = f"{iid}_m{r}.png"
        h, w = sizes[iid] if rng.random() < 0.4 else (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        sub = root / "masks" / (splits[iid] if rng.random() < 0.8 else "") / name
        sub.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.random((h, w)) < 0.4).save(sub)
        box = [round(float(v), 3) for v in [*sorted(rng.random(2)), *sorted(rng.random(2))]]
        clicks = rng.choice(["", "0.1 0.2 1", "0.1 0.2 1\n0.3 0.4 0", "a, \"quoted\"\r\nline"])
        row = [name, iid, MIDS[int(rng.integers(len(MIDS)))], f"b{r}", *map(str, box),
               str(round(float(rng.random()), 2)) if rng.random() < 0.5 else "", clicks]
        key = splits[iid] if splits[iid] == "validation" or rng.random() < 0.7 else "oidv6-train"
        csvs[key].append(row)
    for key, rows in csvs.items():
        out = io.StringIO(newline="")
        # (a field with a line feed is quoted only when the line ends hold one: quote all then)
        w = csv.writer(out, lineterminator=newline, quoting=csv.QUOTE_ALL if newline == "\r" else csv.QUOTE_MINIMAL)
        w.writerow(HEADER)
        for row in rows:
            w.writerow(row)
            if rng.random() < 0.2:
                out.write(newline + " , " + newline)  # blank and whitespace-only rows: passed over
        data = ("\ufeff" if bom else "") + out.getvalue()
        (ann / f"{key}-annotations-object-segmentation.csv").write_bytes(data.encode())
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("oi") / "ds", seed=1)


@pytest.fixture
def copy(built, tmp_path):
    dst = tmp_path / "ds"
    shutil.copytree(built, dst)
    return dst


def test_the_fixture_streams_as_it_reads():
    ds = same_as_read(FIXTURE)
    assert len(ds.items) == 2 and any("3 mask(s)" in n for n in ds.meta["read_notes"])
    same_as_read(FIXTURE / "annotations")


def test_the_datumaro_sample_streams_as_it_reads(corpus):
    root = corpus / "datumaro" / "open_images_dataset" / "v6"
    if root.is_dir():
        same_as_read(root)


@pytest.mark.parametrize("seed, newline, bom", [(1, "\n", False), (2, "\r\n", True), (3, "\r", False),
                                                (4, "\n", True), (5, "\r\n", False)])
def test_built_sets_stream_as_they_read(tmp_path, seed, newline, bom):
    root = build(tmp_path / "ds", seed, newline=newline, bom=bom)
    ds = same_as_read(root)
    assert len(ds.items) >= 8 and sum(len(i.annotations) for i in ds.items) == 45
    assert {i.split for i in ds.items} == {"train", "validation"}


def test_the_index_keeps_16_bytes_a_row(built):
    index = _open_images_stream.build_index(sorted((built / "annotations").glob("*-segmentation.csv")),
                                            open_images._split)
    assert index.error is None and len(index.by_image) == len(index.ends) == 45
    assert index.nbytes == 16 * 45 + 8 * (index.n_images + 1)
    order = [i.id for i in segmill.read(built, "open_images").items]
    assert index.n_images == len(order)


def test_items_come_one_image_at_a_time(built, monkeypatch):
    calls = []
    real = open_images.read_png
    monkeypatch.setattr(open_images, "read_png", lambda f: calls.append(f) or real(f))
    st = segmill.stream(built, "open_images")
    assert st.bounded and calls == []  # the header: the CSVs and PNG headers only, nothing decoded
    assert getattr(st._items, "ids_unique", False)
    it = iter(st)
    first = next(it)
    assert len(calls) == len(first.annotations)
    second = next(it)
    assert len(calls) == len(first.annotations) + len(second.annotations)
    rest = list(it)
    assert len(calls) == 45 and len(rest) + 2 == len(segmill.read(built, "open_images").items)


def test_lenient_modes_read_whole(built):
    for errors in ("skip", "keep"):
        assert open_images.stream(built, errors=errors) is None
        st = segmill.stream(built, "open_images", errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(built, "open_images", errors=errors)


def test_masks_changed_between_the_passes_are_refused(copy):
    st = segmill.stream(copy, "open_images")
    for f in (copy / "masks").rglob("*.png"):
        Image.new("1", (13, 13)).save(f)  # no mask is at its image's size now
    with pytest.raises(InputError, match="the mask files changed while they were read"):
        st.to_dataset()


# ------------------------------------------------------------------ the same errors
def _csv(root, key="train"):
    return root / "annotations" / f"{key}-annotations-object-segmentation.csv"


def _rows(root, key="train"):
    rows = csv.reader(io.StringIO(_csv(root, key).read_bytes().decode("utf-8-sig"), newline=""))
    return [r for r in rows if r and any(v.strip() for v in r)]


def _rewrite(root, rows, key="train"):
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    _csv(root, key).write_text(out.getvalue())


def _mask_of(root, row):
    return next(f for f in (root / "masks").rglob(row[0]))


def _missing_mask(root, row):
    _mask_of(root, row).unlink()


def _broken_mask(root, row):
    f = _mask_of(root, row)
    f.write_bytes(f.read_bytes()[:40])


def _missing_image(root, row):
    for f in (root / "images").rglob(f"{row[1]}.*"):
        f.unlink()
    meta = root / "annotations" / "images.meta"
    meta.write_text("".join(ln for ln in meta.read_text().splitlines(True) if not ln.startswith(row[1])))


def _bad_value(root, row):
    row[8] = "2"


@pytest.mark.parametrize("breaker", [_missing_mask, _broken_mask, _missing_image, _bad_value])
@pytest.mark.parametrize("at", [1, 12, -1])
def test_a_bad_row_raises_the_reads_error(copy, breaker, at):
    rows = _rows(copy)
    breaker(copy, rows[at])
    _rewrite(copy, rows)
    _, err = R.outcome(lambda: segmill.read(copy, "open_images"))
    assert err is not None
    assert streamed_until_error(copy)[1] == err


def test_the_first_failing_row_in_reading_order_wins(copy):
    """Image A is built first and fails at its second row; a row of image B, between A's two, fails first."""
    rows = _rows(copy, "oidv6-train")[1:] + _rows(copy)[1:]
    ids = [r[1] for r in rows]
    a = next(i for i in ids if ids.count(i) >= 2)
    a1, a2 = [r for r in rows if r[1] == a][:2]
    b = next(r for r in rows if r[1] != a)
    rest = [r for r in rows if r not in (a1, a2, b)]
    _rewrite(copy, [HEADER, a1, b, a2, *rest], "oidv6-train")
    _rewrite(copy, [HEADER])
    assert same_as_read(copy) is not None
    _missing_mask(copy, a2)
    _broken_mask(copy, b)
    _, err = R.outcome(lambda: segmill.read(copy, "open_images"))
    assert err is not None and err[1] == str(_mask_of(copy, b))
    items, serr = streamed_until_error(copy)
    assert serr == err and items == []


@pytest.mark.parametrize("text", [
    'a.png,"unterminated\n',  # malformed CSV
    "../x.png,0001,/m/a,1,0,1,0,1,0.5,\n",  # a row that fails its check
    "x.png,0001\n",  # too few values
])
def test_a_bad_csv_row_raises_the_reads_error_after_the_rows_before(copy, text):
    with open(_csv(copy), "a") as fh:
        fh.write(text)
    same_as_read(copy)


def test_an_image_in_two_splits_is_refused_alike(copy):
    train = _rows(copy)
    rows = _rows(copy, "validation")
    rows.insert(3, train[2])
    _rewrite(copy, rows, "validation")
    whole, err = R.outcome(lambda: segmill.read(copy, "open_images"))
    assert err is not None and "is also in the" in err[0]
    same_as_read(copy)


@pytest.mark.parametrize("change", ["header", "empty", "not utf-8", "classes", "meta"])
def test_bad_files_are_refused_alike(copy, change):
    if change == "header":
        _csv(copy, "validation").write_text("ImageID,LabelName\nx,/m/0\n")
    elif change == "empty":
        _csv(copy, "validation").write_text("")
    elif change == "not utf-8":
        with open(_csv(copy, "validation"), "ab") as fh:
            fh.write(b"\xff\xfe,x\n")
    elif change == "classes":
        (copy / "annotations" / "oidv6-class-descriptions.csv").write_text("LabelName,DisplayName\n/m/a\n")
    else:
        (copy / "annotations" / "images.meta").write_text("a 1\n")
    same_as_read(copy)


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(built, monkeypatch):
    R.same_check(built, "open_images", monkeypatch, found=True)


@pytest.mark.parametrize("fmt", ["masks", "labelme"])
def test_convert_streams_the_bytes_of_the_whole_write(built, tmp_path, monkeypatch, fmt):
    R.S.same(tmp_path, fmt, built, [], {}, R.S.count_writes(monkeypatch, fmt), at_least=3)
