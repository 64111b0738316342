"""SA-1B writer: one ``<stem>.json`` per image, in a folder or in ``sa_NNNNNN.tar`` shards.

Layout
------
``shard_size=0`` (default): a folder; each item's JSON goes to
``<image's folders>/<image stem>.json`` (an item read from SA-1B keeps its
JSON's path) with the image beside it, named in ``file_name``.
``shard_size=N``: the same files as members of ``sa_000000.tar``,
``sa_000001.tar``, ... (N images each, JSON then image), each shard written
under a temporary name in the output folder and renamed when complete.
Shards are deterministic: members have mtime 0, mode 0644 and no owner.

Values
------
An annotation read from SA-1B whose mask is unchanged is written with the
values read (the same ``segmentation`` string, ``area``, ``bbox``, key
order). Otherwise the geometry becomes compressed RLE (polygons rasterized
with the ``raster`` rule, else the dataset's, else pycocotools': a change of
representation, not a loss), ``area`` is its pixel count and ``bbox`` its
``toBbox``; a stored area / bbox of a mask that differed from these is
reported (L885); a polygon's stored polygon area and vertex extent follow
the conversion.
``extra["sa1b_id"]`` (else the model id) is written as ``id``; the other
``extra`` keys as fields of their own.

Images
------
With ``copy_images`` each image is found as the other folder writers find
theirs (``image_root``, else ``meta["image_root"]``, full name then base
name, confined) or, for an item read from an SA-1B tar shard, read from its
member of that shard (the shard is opened once, nothing extracted to disk).
An image found nowhere is reported (L886) and its JSON still written.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from ..geometry import Box, Mask, Polygons, Shape
from ..jsonio import strict_jsonable
from ..losses import WriteReport
from ..model import Dataset, Item, origin_of
from ..paths import output_name
from ..raster import rasterize
from ..rle import RLE
from ..validate import brief
from ._coco_write import _ordered
from ._image_files import find_image, place_image
from ._sa1b_record import ANN_KEYS, CATEGORY_ID, ID_FIELD, IMAGE_KEYS
from ._sa1b_source import clean_member, member_problem, open_tar, read_member
from ._stream_checks import checked_items
from .options import raster_rule

__all__ = ["CATEGORY_NAME", "write", "write_stream"]

#: The name of the one implicit category of SA-1B masks.
CATEGORY_NAME = "object"
_SHARD = "sa_{:06d}.tar"


@dataclass
class _Ctx:
    """What one write shares across items."""

    report: WriteReport
    rule: str
    roots: list
    copy: bool
    link: bool
    next_id: int = 0  # ids of annotations that have none
    dropped: dict = field(default_factory=dict)  # category id -> annotations written
    tars: dict = field(default_factory=dict)  # source shard -> (TarFile, members by clean name)


# ------------------------------------------------------------------ naming
def _checked(rel: str, item) -> str:
    """``rel`` when every component can be a file name inside the output; InputError otherwise."""
    for part in rel.split("/"):
        output_name(part, "file name", None, f"image id {brief(item.id)}")
    return rel


def _names(item: Item) -> tuple[str, str]:
    """``(JSON path, file_name as written)`` of an item, relative to the output / to the JSON's folder."""
    o = origin_of(item, "sa1b")
    if o is not None:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(o.json_name), o.file_name.replace("\\", "/")))
        if joined == item.file_name:
            return o.json_name, o.file_name
    fn = item.file_name.replace("\\", "/") if isinstance(item.file_name, str) else ""
    folder, base = posixpath.split(posixpath.normpath(fn)) if fn else ("", "")
    if not base or base in (".", ".."):
        base = f"{item.id}"
    stem = posixpath.splitext(base)[0] or base
    return posixpath.join(folder, stem + ".json") if folder not in ("", ".") else stem + ".json", base


def plan(dataset: Dataset) -> list[tuple[str, str, str]]:
    """``[(JSON path, image path, file_name)]`` per item, unique and checked before anything is written."""
    used: set = set()
    return [_placed(item, used) for item in dataset.items]


def _placed(item: Item, used: set) -> tuple[str, str, str]:
    """``(JSON path, image path, file_name)`` of an item, its JSON path unique among ``used`` (then added to it)."""
    json_rel, fn = _names(item)
    stem, k = json_rel[:-5], 1
    while json_rel in used:
        k += 1
        json_rel = f"{stem}_{k}.json"
    used.add(json_rel)
    image_rel = posixpath.normpath(posixpath.join(posixpath.dirname(json_rel), fn))
    return _checked(json_rel, item), _checked(image_rel, item), fn


# ------------------------------------------------------------------ values
def _extra(obj, ctx: _Ctx, what: str, item_id, ann_id=None) -> dict:
    out = {}
    for k, v in obj.extra.items():
        if isinstance(k, str) and strict_jsonable(v):
            out[k] = v
        else:
            ctx.report.lose("L001", f"{what} field {brief(k)} cannot be written as JSON", item_id, ann_id)
    return out


def _image_record(item: Item, fn: str, ctx: _Ctx) -> dict:
    o = origin_of(item, "sa1b")
    fields = {"image_id": item.id, "width": item.width, "height": item.height, "file_name": fn}
    extra = _extra(item, ctx, "image", item.id)
    rec = _ordered(o.keys if o is not None else IMAGE_KEYS, fields, extra, IMAGE_KEYS)
    if item.attributes:
        ctx.report.lose("L001", f"image attributes {sorted(map(str, item.attributes))} dropped", item.id)
    if item.split is not None:
        ctx.report.lose("L001", f"split {brief(item.split)} dropped (SA-1B has no splits)", item.id)
    return rec


def _kept(ann, o) -> dict | None:
    """The values read from SA-1B when the annotation still holds them."""
    if o is None or ann.geometry is not o.rle:
        return None
    same_area = (o.area is None and ann.area is None) or (o.area is not None and ann.area == o.area)
    same_bbox = (o.bbox is None and ann.bbox is None) or (
        o.bbox is not None and ann.bbox is not None and list(ann.bbox) == list(o.bbox))
    if not (same_area and same_bbox):
        return None
    out = {"segmentation": o.segmentation}
    if o.area is not None:
        out["area"] = o.area
    if o.bbox is not None:
        out["bbox"] = o.bbox
    return out


def _mask_values(ann, rle: RLE, item: Item, ctx: _Ctx) -> dict:
    area, bbox = int(rle.area), [float(v) for v in rle.bbox]
    stored_a, stored_b = ann.area, ann.bbox
    if isinstance(ann.geometry, Polygons):  # polygon area and extent become the mask's by the conversion itself
        return {"segmentation": rle.to_coco(), "bbox": bbox, "area": area}
    if (stored_a is not None and stored_a != area) or (stored_b is not None and list(stored_b) != bbox):
        ctx.report.lose("L885", f"stored area {brief(stored_a)} / bbox {brief(stored_b)} replaced by the mask's "
                        f"{area} / {bbox}", item.id, ann.id)
    return {"segmentation": rle.to_coco(), "bbox": bbox, "area": area}


def _usable(ann, item: Item, ctx: _Ctx) -> bool:
    """Whether an annotation can be an SA-1B mask; the loss reported when it cannot."""
    g, rep = ann.geometry, ctx.report
    if ann.attributes.get("void") is True:
        rep.lose("L882", "void region dropped", item.id, ann.id)
        return False
    if isinstance(g, Box):
        rep.lose("L881", "box-only annotation dropped", item.id, ann.id)
        return False
    if not isinstance(g, (Polygons, RLE, Mask)):
        kind = g.kind if isinstance(g, Shape) else type(g).__name__
        rep.lose("L002", f"a {brief(kind)} geometry is not a mask; SA-1B cannot hold it", item.id, ann.id)
        return False
    return True


def _side_losses(ann, item: Item, ctx: _Ctx) -> None:
    rep = ctx.report
    if ann.category_id is not None:
        ctx.dropped[ann.category_id] = ctx.dropped.get(ann.category_id, 0) + 1
    if ann.iscrowd:
        rep.lose("L883", "crowd flag dropped", item.id, ann.id)
    if ann.score is not None:
        rep.lose("L884", f"score {ann.score:g} dropped", item.id, ann.id)
    attrs = [str(k) for k in ann.attributes if k != "void"]
    if attrs:
        rep.lose("L001", f"attributes {sorted(attrs)} dropped", item.id, ann.id)


def _annotation_record(ann, values: dict, item: Item, ctx: _Ctx) -> dict:
    o = origin_of(ann, "sa1b")
    extra = _extra(ann, ctx, "annotation", item.id, ann.id)
    sid = extra.pop(ID_FIELD, ann.id)
    if sid is None:
        ctx.next_id += 1
        sid = ctx.next_id
    fields = dict(values, id=sid)
    return _ordered(o.keys if o is not None else ANN_KEYS, fields, extra, ANN_KEYS)



def _document(item: Item, fn: str, ctx: _Ctx) -> dict | None:
    """The JSON document of one item, or ``None`` when the item cannot be written (L887)."""
    if item.size is None:
        ctx.report.lose("L887", "image of unknown size dropped", item.id)
        return None
    anns = [a for a in item.annotations if _usable(a, item, ctx)]
    kept = [_kept(a, origin_of(a, "sa1b")) for a in anns]
    todo = [a.geometry for a, k in zip(anns, kept) if k is None]
    rles = iter(rasterize(todo, item.size, ctx.rule) if todo else [])
    records = []
    for a, k in zip(anns, kept):
        if k is None:
            r = next(rles)
            if not isinstance(r, RLE):
                ctx.report.lose("L002", f"the geometry cannot be rasterized: {r}", item.id, a.id)
                continue
            k = _mask_values(a, r, item, ctx)
        _side_losses(a, item, ctx)
        records.append(_annotation_record(a, k, item, ctx))
    ctx.report.annotations += len(records)
    return {"image": _image_record(item, fn, ctx), "annotations": records}


# ------------------------------------------------------------------ images
def _tar_image(item: Item, ctx: _Ctx) -> bytes | None:
    """The image bytes of an item read from an SA-1B tar shard, from its member; ``None`` when absent."""
    o = origin_of(item, "sa1b")
    if o is None or o.tar is None:
        return None
    got = ctx.tars.get(o.tar)
    if got is None:
        for tf, _ in ctx.tars.values():  # items come shard after shard: keep one open
            tf.close()
        ctx.tars.clear()
        tf = open_tar(Path(o.tar))
        try:
            listed = tf.getmembers()
        except (tarfile.TarError, EOFError, ValueError, OSError) as exc:
            tf.close()
            raise InputError(f"the tar shard is damaged: {brief(str(exc))}", o.tar) from None
        members = {clean_member(m.name): m for m in listed if member_problem(m) is None and m.isreg()}
        got = ctx.tars[o.tar] = (tf, members)
    tf, members = got
    name = posixpath.normpath(posixpath.join(posixpath.dirname(o.json_name), o.file_name.replace("\\", "/")))
    m = members.get(name)
    if m is None:
        return None
    return read_member(tf, m, Path(o.tar), f"member {brief(name)}")


def _image_bytes(item: Item, ctx: _Ctx) -> tuple[bytes | None, Path | None]:
    """``(bytes, None)`` from a source shard, ``(None, path)`` of a file on disk, or ``(None, None)``."""
    try:
        data = _tar_image(item, ctx)
    except InputError as exc:
        ctx.report.lose("L886", f"image not readable in its source shard: {exc.message}", item.id)
        return None, None
    if data is not None:
        return data, None
    src = find_image(item, ctx.roots)
    if src is None:
        ctx.report.lose("L886", f"image {brief(item.file_name)} not found", item.id)
    return None, src


def _roots(dataset: Dataset, image_root) -> list:
    roots = [Path(image_root)] if image_root is not None else []
    if dataset.meta.get("image_root"):
        roots.append(Path(dataset.meta["image_root"]))
    src = dataset.meta.get("source_path")
    if src:
        roots.append(Path(src) if Path(src).is_dir() else Path(src).parent)
    return roots


# ------------------------------------------------------------------ output
def _encode(doc: dict) -> bytes:
    return json.dumps(doc, allow_nan=False).encode("ascii")


class _Folder:
    def __init__(self, out: Path, ctx: _Ctx):
        self.out, self.ctx = out, ctx

    def add(self, json_rel: str, data: bytes, image_rel: str, image: tuple) -> None:
        p = self.out / json_rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        self.ctx.report.files += 1
        blob, src = image
        dst = self.out / image_rel
        if dst.exists():
            return
        if blob is not None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(blob)
            self.ctx.report.files += 1
        elif src is not None:
            place_image(src, dst, self.ctx.link, self.ctx.report)

    def close(self) -> None:
        pass


class _Shards:
    """Tar shards of ``size`` images, each written under a temporary name and renamed when complete."""

    def __init__(self, out: Path, ctx: _Ctx, size: int):
        self.out, self.ctx, self.size = out, ctx, size
        self.n = self.k = 0
        self.tf = None
        self.tmp = self.final = None
        self.names: set = set()

    def _member(self, name: str, data: bytes) -> None:
        if name in self.names:
            return
        self.names.add(name)
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        info.uname = info.gname = ""
        self.tf.addfile(info, io.BytesIO(data))

    def add(self, json_rel: str, data: bytes, image_rel: str, image: tuple) -> None:
        if self.tf is None:
            self.final = self.out / _SHARD.format(self.k)
            self.tmp = self.out / f".{self.final.name}.tmp"
            # open across add() calls; close() closes it and renames the shard into place
            self.tf = tarfile.open(self.tmp, mode="w:", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._member(json_rel, data)
        blob, src = image
        if blob is None and src is not None:
            blob = src.read_bytes()
        if blob is not None:
            self._member(image_rel, blob)
        self.n += 1
        if self.n == self.size:
            self.close()

    def close(self) -> None:
        if self.tf is None:
            return
        self.tf.close()
        os.replace(self.tmp, self.final)
        self.ctx.report.files += 1
        self.tf, self.n, self.names = None, 0, set()
        self.k += 1


def _shard_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"shard_size must be an integer >= 0 (0: a plain folder), got {brief(value)}")
    return value


def write(dataset: Dataset, path, shard_size: int = 0, image_root=None, copy_images: bool = True,
          link_images: bool = False, raster: str | None = None) -> WriteReport:
    """Write SA-1B per-image JSON (and images) to the folder ``path``.

    Parameters
    ----------
    shard_size : int, default 0
        Images per ``sa_NNNNNN.tar`` shard; 0 writes a plain folder.
    image_root : path, optional
        Where the source images are (default: ``meta["image_root"]``).
    copy_images : bool, default True
        Put each image beside its JSON (folder or shard); one found nowhere is L886.
    link_images : bool, default False
        Hard-link images instead of copying them (plain folder only).
    raster : {"coco", "pil"}, optional
        How polygons become masks; default: the rule the dataset was read
        with (``meta["raster_rule"]``), else ``coco`` (pycocotools).
    """
    size = _shard_size(shard_size)
    rule = raster_rule(dataset, raster)  # a bad rule is refused before any work
    dataset.validate(path)
    places = plan(dataset)  # every name is checked before anything is written
    return _write_planned(dataset, zip(dataset.items, places), path, size, rule, image_root, copy_images, link_images)


def write_stream(stream, path, shard_size: int = 0, image_root=None, copy_images: bool = True,
                 link_images: bool = False, raster: str | None = None) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files (and shards) and report as :func:`write` of the whole
    dataset; an image the write refuses (a name no file system holds, an
    invalid geometry) stops it there (the caller stages the folder, so
    nothing is left of it). Memory holds one image, each image's JSON path
    and one open source shard.
    """
    size = _shard_size(shard_size)
    header = stream.header
    rule = raster_rule(header, raster)
    used: set = set()
    places = ((item, _placed(item, used)) for item in checked_items(stream, path))
    return _write_planned(header, places, path, size, rule, image_root, copy_images, link_images)


def _write_planned(dataset: Dataset, placed, path, size: int, rule: str, image_root, copy_images,
                   link_images) -> WriteReport:
    """Write the ``(item, (JSON path, image path, file_name))`` pairs of ``placed`` with the categories and meta
    of ``dataset``."""
    report = WriteReport()
    ctx = _Ctx(report, rule, _roots(dataset, image_root) if copy_images else [],
               bool(copy_images), bool(link_images))
    out = Path(path)
    out.mkdir(parents=True)
    sink = _Shards(out, ctx, size) if size else _Folder(out, ctx)
    try:
        for item, (json_rel, image_rel, fn) in placed:
            doc = _document(item, fn, ctx)
            if doc is None:
                continue
            image = _image_bytes(item, ctx) if ctx.copy else (None, None)
            sink.add(json_rel, _encode(doc), image_rel, image)
            report.items += 1
        sink.close()
    finally:
        for tf, _ in ctx.tars.values():
            tf.close()
    for c in dataset.categories:  # every class but the implicit one reads back as 'object' (id 1) or not at all
        if (c.id, c.name) != (CATEGORY_ID, CATEGORY_NAME):
            report.lose("L880", f"class {brief(c.name)} (id {brief(c.id)}) dropped: {ctx.dropped.get(c.id, 0)} "
                        f"annotation(s) written as class-agnostic '{CATEGORY_NAME}' masks")
    if not copy_images:
        report.notes.append("images not copied (copy_images=False): each JSON names its image in file_name")
    return report
