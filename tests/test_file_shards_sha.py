"""CamVid, image + mask folders, mask folders, COCO panoptic and Open Images cut into parts (``FormatSpec.shards``).

The oracle is the whole stream (``same_in_parts`` of ``tests/test_file_shards.py``):
the parts a sharded run plans, each opened as a worker opens it and
renumbered as the driver renumbers them, give the whole stream's items in
order (annotation ids included) and its skipped records; a part of a bad
dataset refuses it as the whole read does. The datasets are the fixtures,
and the built sets and breakers of each format's stream tests.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

import segmill
from segmill import synth
from segmill.distributed.shards import PositionRange, plan
from segmill.formats import formats

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
FORMATS = ("camvid", "image_masks", "masks", "coco_panoptic", "open_images")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name.replace("/", "_"), HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FS = _load("test_file_shards")  # same_in_parts
SEM = _load("test_semantic_read_stream")  # CamVid's breakers
IM = _load("test_image_masks_read_stream")
MK = _load("test_masks_read_stream")
PAN = _load("test_coco_panoptic_read_stream")
OI = _load("test_open_images_stream")
same_in_parts = FS.same_in_parts


def test_every_format_declares_shards_and_a_selecting_stream():
    for fmt in FORMATS:
        spec = formats()[fmt]
        assert spec.shards is not None and spec.stream is not None, fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_fixture_in_parts_is_the_whole_stream(fmt):
    path = FIXTURES / formats()[fmt].example
    same_in_parts(path, fmt)
    assert not any(isinstance(s.selection, PositionRange) for s in plan(path, fmt, {}, 2))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("errors", ["skip", "keep"])
def test_lenient_reads_are_cut_into_position_ranges(fmt, errors):
    path = FIXTURES / formats()[fmt].example
    assert formats()[fmt].shards(path, 4, errors=errors) is None
    same_in_parts(path, fmt, errors=errors)


def _synthetic(tmp_path, n: int, seed: int, splits: bool = True):
    ds = segmill.read(synth.write_coco(tmp_path / f"src{seed}.json", n, seed=seed, extra_fields=False), "coco")
    if splits:
        for k, item in enumerate(ds.items):
            item.split = ("train", "val")[k % 2]
    return ds


# ------------------------------------------------------------------ CamVid
@pytest.fixture(scope="module")
def camvid_sets(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("camvid-parts")
    out = {}
    for name, options in (("RGB", {}), ("L", {"mask_mode": "L"})):
        segmill.write(_synthetic(root, 9, 5), root / name, "camvid", **options)
        out[name] = root / name
    return out


@pytest.mark.parametrize("name", ["RGB", "L"])
@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
def test_built_camvid_sets_in_parts_are_the_whole_stream(camvid_sets, tmp_path, name, errors):
    clean = camvid_sets[name]
    same_in_parts(clean, "camvid", errors=errors)
    breakers = (SEM._truncated, SEM._bad_value, SEM._a_folder)
    for breaker in breakers if errors == "raise" else breakers[:1]:
        for at in (0, 4, 8):
            root = tmp_path / f"{breaker.__name__}-{at}"
            shutil.copytree(clean, root)
            SEM._break(root, "camvid", at, breaker)
            same_error_in_parts(root, "camvid", errors=errors)


@pytest.mark.parametrize("text", ["/train/a.png /trainannot/missing.png\n", "a b c\n", "/x.png ../../../etc/passwd\n",
                                  '"/a b.png" x\n', "\n# a comment\n\n"])
def test_a_bad_camvid_list_line_is_refused_by_a_part(camvid_sets, tmp_path, text):
    root = tmp_path / "ds"
    shutil.copytree(camvid_sets["RGB"], root)
    (root / "train.txt").write_text((root / "train.txt").read_text() + text)
    same_error_in_parts(root, "camvid")


def test_an_image_listed_twice_in_two_parts_is_refused(camvid_sets, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(camvid_sets["RGB"], root)
    lines = (root / "train.txt").read_text().splitlines()
    (root / "zz.txt").write_text("\n".join(ln.replace("train", "zz", 1) for ln in lines[:3] + lines[:1]) + "\n")
    sels = [s.selection for s in plan(root, "camvid", {}, 3)]
    assert sels[-1]["stop"] - sels[-1]["start"] == 1  # the second listing is alone in its part
    with pytest.raises(segmill.InputError, match="listed twice"):
        list(formats()["camvid"].stream(root, selection=sels[-1])[1])
    same_error_in_parts(root, "camvid")


def test_camvid_mixed_modes_in_parts(camvid_sets, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(camvid_sets["RGB"], root)
    mask = (root / "val.txt").read_text().split()[1].lstrip("/")
    shutil.copyfile(camvid_sets["L"] / mask, root / mask)
    same_in_parts(root, "camvid")
    assert "camvid_mask_mode" not in segmill.stream(root, "camvid").header.meta


def same_error_in_parts(path, fmt: str, workers: int = 3, **options) -> None:
    """:func:`same_in_parts`, and the first part (in order) that refuses the dataset raises the whole
    stream's error (what a sharded run reports), after the whole stream's items before it; a dataset refused
    before its first item is refused as the parts are planned."""
    try:
        formats()[fmt].stream(path, **options)
    except segmill.InputError as exc:
        with pytest.raises(segmill.InputError) as planned:
            plan(path, fmt, options, workers)
        assert (planned.value.message, planned.value.path) == (exc.message, exc.path)
        return
    same_in_parts(path, fmt, **options)
    items, err = SEM.streamed_until_error(path, fmt, **options)
    got, gerr = [], None
    for s in plan(path, fmt, options, workers):
        header, part, _ = FS.open_shard(s)
        try:
            got += [item.id for item in part]
        except segmill.InputError as exc:
            gerr = (exc.message, str(exc.path), exc.record, type(exc))
            break
    assert gerr == err
    assert got == [item.id for item in items][:len(got)]


# ------------------------------------------------------------------ image + mask folders
@pytest.fixture(scope="module")
def image_masks_sets(tmp_path_factory) -> dict:
    return IM.build(tmp_path_factory.mktemp("im-parts"), 9)


@pytest.mark.parametrize("which", ["L", "RGB"])
@pytest.mark.parametrize("table", [True, False])
@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
def test_built_image_masks_sets_in_parts_are_the_whole_stream(image_masks_sets, tmp_path, which, table, errors):
    if which == "RGB" and not table:
        return  # RGB masks are refused without a table (and split folders need one)
    clean = tmp_path / "clean"
    shutil.copytree(image_masks_sets[which], clean)
    if not table:
        for f in clean.rglob("dataset_meta.json"):
            f.unlink()
    same_in_parts(clean, "image_masks", errors=errors)
    breakers = (IM._truncated, IM._unknown_value, IM._unknown_colour, IM._transparent, IM._cmyk, IM._not_an_image)
    for breaker in breakers if errors == "raise" else breakers[:1]:
        for at in (0, 5):
            root = tmp_path / f"{breaker.__name__}-{at}"
            shutil.copytree(clean, root)
            breaker(sorted(root.rglob("masks/*.png"))[at])
            same_error_in_parts(root, "image_masks", errors=errors)


def test_image_masks_options_in_parts(image_masks_sets, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(image_masks_sets["L"], root)
    for m in sorted(root.rglob("masks/*.png")):
        m.rename(m.with_name(f"gt_{m.stem}_m.png"))
    for im in (root / "images").iterdir():
        im.rename(im.with_name(f"img_{im.name}"))
    (tmp_path / "labels.txt").write_text("\n".join(f"c{v}" for v in range(100)) + "\n")
    same_in_parts(root, "image_masks", masks_prefix="gt_", masks_suffix="_m", images_prefix="img_",
                  labels=tmp_path / "labels.txt", background=2)
    (root / "images" / "img_no_mask.png").write_bytes(b"not an image")  # an image without a mask, refused
    same_error_in_parts(root, "image_masks", masks_prefix="gt_", masks_suffix="_m", images_prefix="img_")


# ------------------------------------------------------------------ mask folders
@pytest.fixture(scope="module")
def masks_sets(tmp_path_factory) -> dict:
    from PIL import Image

    root = tmp_path_factory.mktemp("masks-parts")
    ds = MK.O.synthetic(root, 9)
    out = {}
    for mode in ("L", "P", "I;16"):
        out[mode] = root / mode.replace(";", "")
        segmill.write(ds, out[mode], "masks", mode=mode)
    (out["L"] / "images").mkdir()
    for m in sorted((out["L"] / "semantic").glob("*.png"))[::2]:
        Image.new("RGB", (5, 4)).save(out["L"] / "images" / f"{m.stem}.jpg")
    return out


@pytest.mark.parametrize("mode", ["L", "P", "I;16"])
@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
def test_built_mask_folders_in_parts_are_the_whole_stream(masks_sets, tmp_path, mode, errors):
    clean = masks_sets[mode]
    same_in_parts(clean, "masks", errors=errors)
    (tmp_path / "elsewhere.png").write_bytes(b"")
    breakers = (MK._truncated, MK._unknown_value, MK._rgb, MK._other_size, MK._no_semantic_bad_json_class,
                MK._link_out)
    for breaker in breakers if errors == "raise" else breakers[:1]:
        for at in (0, 5):
            root = tmp_path / f"{breaker.__name__}-{at}" / "ds"
            shutil.copytree(clean, root)
            (root.parent / "elsewhere.png").write_bytes(b"")
            breaker(root, sorted(f.stem for f in (clean / "semantic").glob("*.png"))[at])
            same_error_in_parts(root, "masks", errors=errors)


def test_mask_folders_mixed_modes_instance_maps_only_and_flat_in_parts(masks_sets, tmp_path):
    root = tmp_path / "mixed"
    shutil.copytree(masks_sets["L"], root)
    shutil.copyfile(sorted((masks_sets["P"] / "semantic").glob("*.png"))[5], sorted((root / "semantic").glob("*"))[5])
    same_in_parts(root, "masks")
    assert "masks_mode" not in segmill.stream(root, "masks").header.meta
    only = tmp_path / "only"
    shutil.copytree(masks_sets["L"], only)
    shutil.rmtree(only / "semantic")
    same_in_parts(only, "masks")
    flat = tmp_path / "flat"
    shutil.copytree(masks_sets["I;16"], flat)
    shutil.rmtree(flat / "instances")
    for m in sorted((flat / "semantic").glob("*.png")):
        m.rename(flat / m.name)
    (flat / "semantic").rmdir()
    same_in_parts(flat, "masks", background=3, ignore_value=1000)


# ------------------------------------------------------------------ COCO panoptic
@pytest.fixture(scope="module")
def panoptic_sets(tmp_path_factory) -> dict:
    return PAN.build(tmp_path_factory.mktemp("pan-parts"), 9)


def _panoptic_copy(panoptic_sets, dst: Path, which: str):
    shutil.copytree(panoptic_sets[which], dst)
    return dst, {f.stem: (f, PAN.json.loads(f.read_text())) for f in sorted((dst / "annotations").glob("*.json"))}


@pytest.mark.parametrize("which", ["one", "two"])
@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
def test_built_panoptic_sets_in_parts_are_the_whole_stream(panoptic_sets, which, errors):
    same_in_parts(panoptic_sets[which], "coco_panoptic", errors=errors)


@pytest.mark.parametrize("breaker", [PAN._truncated_png, PAN._recoloured_png, PAN._missing_png, PAN._grey_png,
                                     PAN._bad_width, PAN._wrong_size, PAN._unknown_category, PAN._png_out_of_folder,
                                     PAN._float_image_id])
def test_a_bad_panoptic_image_is_refused_by_its_part(panoptic_sets, tmp_path, breaker):
    for at in (0, 4, 8):
        root, docs = _panoptic_copy(panoptic_sets, tmp_path / f"{at}", "one")
        breaker(root, docs, at)
        PAN._dump(docs)
        same_error_in_parts(root, "coco_panoptic")
    same_in_parts(root, "coco_panoptic", errors="skip")


@pytest.mark.parametrize("change", [PAN._string_ids, PAN._repeated_id, PAN._huge_annotation_id, PAN._bad_category,
                                    PAN._bad_annotation_record, PAN._no_categories])
def test_what_the_panoptic_index_cannot_vouch_for_is_cut_by_position(panoptic_sets, tmp_path, change):
    root, docs = _panoptic_copy(panoptic_sets, tmp_path / "ds", "two")
    change(docs[max(docs)][1])
    PAN._dump(docs)
    assert formats()["coco_panoptic"].shards(root, 4) is None
    same_in_parts(root, "coco_panoptic")


def test_panoptic_splits_with_their_own_categories_in_parts(panoptic_sets, tmp_path):
    root, docs = _panoptic_copy(panoptic_sets, tmp_path / "ds", "two")
    train, val = docs["panoptic_train"][1], docs["panoptic_val"][1]
    train["info"], val["info"] = {"t": 1}, {"v": [1, 2]}
    val["categories"].append({"id": 99, "name": "late", "color": [1, 2, 3], "isthing": 0})
    PAN._dump(docs)
    same_in_parts(root, "coco_panoptic")
    train["categories"] = train["categories"][:1]  # the train images use categories declared in val only
    PAN._dump(docs)
    same_error_in_parts(root, "coco_panoptic")
    # an error in the later file: refused by a part of the second file, after the first file's images
    root, docs = _panoptic_copy(panoptic_sets, tmp_path / "late", "two")
    PAN._png_of(root, docs["panoptic_val"][1], 1, "val").write_bytes(b"no png")
    same_error_in_parts(root, "coco_panoptic")


def test_a_panoptic_part_numbers_from_its_first_id(panoptic_sets):
    root = panoptic_sets["two"]
    sels = [s.selection for s in plan(root, "coco_panoptic", {}, 2)]
    assert len(sels) == 8 and sels[0]["start"] == 0 and sels[-1]["stop"] == 9
    _, items = formats()["coco_panoptic"].stream(root, selection={**sels[3], "first_annotation_id": 50})
    ids = [a.id for it in items for a in it.annotations]
    assert ids == list(range(50, 50 + len(ids)))


# ------------------------------------------------------------------ Open Images
@pytest.fixture(scope="module")
def open_images_set(tmp_path_factory) -> Path:
    return OI.build(tmp_path_factory.mktemp("oi-parts") / "ds", seed=1)


@pytest.mark.parametrize("seed, newline, bom", [(1, "\n", False), (2, "\r\n", True), (3, "\r", False)])
@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
def test_built_open_images_sets_in_parts_are_the_whole_stream(tmp_path, seed, newline, bom, errors):
    root = OI.build(tmp_path / "ds", seed, newline=newline, bom=bom)
    same_in_parts(root, "open_images", errors=errors)


def test_open_images_parts_keep_the_reads_annotation_ids(open_images_set):
    """The ids are the rows' positions in the CSVs: a part gives them as they are, none is renumbered."""
    shards = plan(open_images_set, "open_images", {}, 2)
    assert len(shards) > 2 and all(set(s.selection) == {"start", "stop", "header"} for s in shards)
    whole = {a.id for it in segmill.stream(open_images_set, "open_images") for a in it.annotations}
    parts = [a.id for s in shards for it in FS.open_shard(s)[1] for a in it.annotations]
    assert sorted(parts) == sorted(whole) and len(parts) == 45


@pytest.mark.parametrize("breaker", [OI._missing_mask, OI._broken_mask, OI._missing_image, OI._bad_value])
def test_a_bad_open_images_row_is_refused_by_a_part(open_images_set, tmp_path, breaker):
    for at in (1, 12, -1):
        root = tmp_path / f"{at}"
        shutil.copytree(open_images_set, root)
        rows = OI._rows(root)
        breaker(root, rows[at])
        OI._rewrite(root, rows)
        same_error_in_parts(root, "open_images")
    same_in_parts(root, "open_images", errors="skip")


def test_the_first_failing_open_images_row_in_reading_order_wins_in_parts(open_images_set, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(open_images_set, copy)
    rows = OI._rows(copy, "oidv6-train")[1:] + OI._rows(copy)[1:]
    ids = [r[1] for r in rows]
    a = next(i for i in ids if ids.count(i) >= 2)
    a1, a2 = [r for r in rows if r[1] == a][:2]
    b = next(r for r in rows if r[1] != a)
    rest = [r for r in rows if r not in (a1, a2, b)]
    OI._rewrite(copy, [OI.HEADER, a1, b, a2, *rest], "oidv6-train")
    OI._rewrite(copy, [OI.HEADER])
    OI._missing_mask(copy, a2)
    OI._broken_mask(copy, b)
    same_error_in_parts(copy, "open_images")


@pytest.mark.parametrize("text", ['a.png,"unterminated\n', "../x.png,0001,/m/a,1,0,1,0,1,0.5,\n", "x.png,0001\n"])
def test_a_bad_open_images_csv_is_refused_by_the_last_part(open_images_set, tmp_path, text):
    root = tmp_path / "ds"
    shutil.copytree(open_images_set, root)
    with open(OI._csv(root), "a") as fh:
        fh.write(text)
    same_error_in_parts(root, "open_images")


@pytest.mark.parametrize("change", ["two splits", "header", "empty", "not utf-8", "classes", "meta"])
def test_bad_open_images_files_are_refused_alike_in_parts(open_images_set, tmp_path, change):
    root = tmp_path / "ds"
    shutil.copytree(open_images_set, root)
    if change == "two splits":
        rows = OI._rows(root, "validation")
        rows.insert(3, OI._rows(root)[2])
        OI._rewrite(root, rows, "validation")
    elif change == "header":
        OI._csv(root, "validation").write_text("ImageID,LabelName\nx,/m/0\n")
    elif change == "empty":
        OI._csv(root, "validation").write_text("")
    elif change == "not utf-8":
        with open(OI._csv(root, "validation"), "ab") as fh:
            fh.write(b"\xff\xfe,x\n")
    elif change == "classes":
        (root / "annotations" / "oidv6-class-descriptions.csv").write_text("LabelName,DisplayName\n/m/a\n")
    else:
        (root / "annotations" / "images.meta").write_text("a 1\n")
    same_error_in_parts(root, "open_images")


# ------------------------------------------------------------------ the Datumaro samples
@pytest.mark.parametrize("sample, fmt, options", [
    ("camvid_dataset", "camvid", {}),
    ("common_semantic_segmentation_dataset/dataset", "image_masks", {}),
    ("common_semantic_segmentation_dataset/non_standard_dataset", "image_masks",
     {"masks_prefix": "gt_", "images_prefix": "image_"}),
    ("coco_dataset/coco_panoptic", "coco_panoptic", {}),
    ("open_images_dataset/v6", "open_images", {}),
])
def test_the_datumaro_samples_in_parts_are_the_whole_stream(corpus, sample, fmt, options):
    root = corpus / "datumaro" / sample
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    same_error_in_parts(root, fmt, **options)


# ------------------------------------------------------------------ sharded runs on a cluster
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed", reason="sharded runs need dask[distributed] (the segmill[dask] extra)")
    from segmill.distributed import connect

    with connect(2) as c:
        yield c


def test_sharded_info_check_and_convert_equal_the_single_process(client, camvid_sets, masks_sets, image_masks_sets,
                                                                  panoptic_sets, open_images_set, tmp_path):
    from segmill._info import summarize_stream
    from segmill.check import check_path
    from segmill.distributed import check_sharded, convert_sharded, summarize_sharded

    for path, fmt in ((camvid_sets["RGB"], "camvid"), (image_masks_sets["RGB"], "image_masks"),
                      (masks_sets["P"], "masks"), (panoptic_sets["two"], "coco_panoptic"),
                      (open_images_set, "open_images")):
        assert len(plan(path, fmt, {}, 2)) > 2
        assert summarize_sharded(client, path, fmt, {}, 2)[0] == summarize_stream(segmill.stream(path, fmt)), fmt
        whole, sharded = check_path(path, format=fmt), check_sharded(client, 2, [path], format=fmt)
        assert [(f.code, f.item_id, f.annotation_id, f.message) for f in sharded.findings] == \
               [(f.code, f.item_id, f.annotation_id, f.message) for f in whole.findings], fmt
        a, b = tmp_path / f"{fmt}-one.json", tmp_path / f"{fmt}-two.json"
        segmill.convert(path, a, fmt, "coco")
        convert_sharded(client, 2, path, b, fmt, "coco")
        assert a.read_bytes() == b.read_bytes(), fmt
