"""COCO instances read as a stream: a compact index of the file, then a batch of images at a time.

A COCO file keeps images and annotations in two arrays, so no image is
complete before the whole file has been seen. The stream reads the file
twice, a block at a time, never whole:

1. :func:`build_index` finds every element of the top-level arrays
   (:func:`segmill._json_spans.scan_block`), parses each run of records to
   check it and to take the ids it needs, and keeps per image and per
   annotation a few packed integers (byte spans, the image each annotation
   belongs to): a few bytes an annotation, not the kilobytes its Python
   objects cost. The byte spans of a big array go to an unnamed temporary
   file as they are found (:class:`SpanFile`, past :data:`SPILL_BYTES` of
   them) and are read back a run at a time, so what stays in memory is 4
   bytes an annotation (its place in image order) and, while the index is
   built, 8 more of annotation id: memory grows with the file at 12 bytes an
   annotation at the most, and a file four times as big needs little more.
2. :class:`CocoItems` yields the images in file order, a batch at a time,
   each with its annotations (in file order), read back by their spans and
   turned into the model by the reader's own code (:func:`read_images`,
   :class:`_AnnotationReader`), so every value is what :func:`read` gives.

The index checks what :func:`read` checks across the whole file (unique
image, category and annotation ids, every annotation's image and category
declared) before the first item is yielded. Whatever the index cannot vouch
for (ids that are not integers, a record that is not an object, JSON only
the standard library reads, a lenient ``errors`` mode, a problem of the
kind just listed, whose exact message the whole read words) makes the
stream read the file whole instead (:class:`~segmill.streaming.Stream`'s
``bounded`` is then False): the same items, more memory.

A sharded run (:mod:`segmill.distributed`) cuts an indexed file into runs
of images (:func:`plan_parts`, on the driver); each :class:`CocoPart`
carries the byte spans of its records, and :func:`part_stream` reads them on
a worker through the same :class:`CocoItems`, without scanning the file.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from array import array
from dataclasses import InitVar, dataclass, field
from pathlib import Path

import numpy as np

from .. import jsonio
from .._jit import njit
from .._progress import track
from ..budget import scaled
from ..errors import InputError
from ..limits import MAX_JSON_DEPTH
from ..model import Dataset
from . import _coco_json as J
from ._coco_checks import _Errors
from ._coco_read import CocoOrder, _AnnotationReader, build_dataset_meta, read_categories, read_images

__all__ = ["CocoIndex", "CocoItems", "CocoPart", "FileOrder", "build_index", "document_spans", "part_stream",
           "plan_parts", "stream_instances"]

#: Bytes read per block while indexing, records parsed per call, images per batch while streaming.
BLOCK = 8 << 20
RUN = 4096
BATCH = 512
#: Bytes of record spans (16 a record) an array keeps in memory before they go to a temporary file.
SPILL_BYTES = 8 << 20
_MAX_MEMBERS = 4096
_SPACE = b" \t\r\n"
_ARRAYS = ("images", "annotations")
_WRAP = b'{"r":'  # what a top-level array is scanned inside (_scan's wrapped)


class _Unstreamable(Exception):
    """The index cannot vouch for the file: read it whole (not an error by itself)."""


class SpanFile:
    """Record spans ``[start, end)`` kept in an unnamed temporary file, read back as int64 arrays.

    Indexed as the ``(n, 2)`` array it stands for: ``spans[k, j]`` (one
    number), ``spans[a:b]`` (an array), ``len(spans)``. Nothing of it stays
    in memory; the operating system removes the file when it is closed.
    """

    def __init__(self) -> None:
        self._f = tempfile.TemporaryFile(prefix="segmill-spans-")
        self._n = 0

    def append(self, flat: array) -> None:
        """Add spans given as ``start, end, start, end, ...``."""
        self._f.write(flat.tobytes())
        self._n += len(flat) // 2

    def done(self) -> SpanFile:
        """Flush the writes; the spans can be read from now on."""
        self._f.flush()
        return self

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:  # resident bytes: none
        return 0

    def _rows(self, a: int, b: int) -> np.ndarray:
        a, b = max(a, 0), min(b, self._n)
        if b <= a:
            return np.empty((0, 2), np.int64)
        data = os.pread(self._f.fileno(), (b - a) * 16, a * 16)
        return np.frombuffer(data, np.int64).reshape(-1, 2)

    def __getitem__(self, key):
        if isinstance(key, slice):
            a, b, step = key.indices(self._n)
            if step != 1:
                raise IndexError("SpanFile slices have no step")
            return self._rows(a, b)
        k, j = key
        k = k + self._n if k < 0 else k
        if not 0 <= k < self._n:
            raise IndexError(k)
        return self._rows(k, k + 1)[0, j]


class _Spans:
    """The spans of one top-level member as the scan finds them: in memory, then spilled past SPILL_BYTES."""

    def __init__(self) -> None:
        self.mem = array("q")
        self.file: SpanFile | None = None
        self.limit = scaled(SPILL_BYTES)

    def add(self, raw: bytes) -> None:
        self.mem.frombytes(raw)
        if len(self.mem) * 8 > self.limit:
            if self.file is None:
                self.file = SpanFile()
            self.file.append(self.mem)
            self.mem = array("q")

    def result(self):
        """An ``(n, 2)`` int64 array, or a :class:`SpanFile` when the spans were spilled."""
        if self.file is None:
            return np.frombuffer(self.mem, np.int64).reshape(-1, 2)
        self.file.append(self.mem)
        self.mem = array("q")
        return self.file.done()


@dataclass
class CocoIndex:
    """Where a COCO file's records are, and what the stream needs to hand them out by image.

    Attributes
    ----------
    top : dict
        The document with ``[]`` in place of ``images`` and ``annotations``.
    images, annotations : ndarray of int64, shape (n, 2), or SpanFile
        Byte spans ``[start, end)`` of each record, in file order.
    owner : ndarray of int32
        Per annotation, the position of its image in ``images`` (used to
        group them; not kept).
    image_ids : ndarray of int64
        The image ids, in file order.
    positions : ndarray of int64, optional
        The index of a part of the file (:class:`CocoPart`): the position in
        the file's ``annotations`` of each of ``annotations`` (ascending);
        ``None``: the whole file's, position ``k`` is ``k``.
    image_base : int
        The position in the file's ``images`` of ``images[0]``.
    """

    path: Path
    top: dict
    images: np.ndarray
    annotations: np.ndarray
    owner: InitVar[np.ndarray]
    image_ids: np.ndarray
    by_image: np.ndarray = field(init=False)  # annotation positions, grouped by image, in file order within
    bounds: np.ndarray = field(init=False)  # by_image[bounds[k]:bounds[k + 1]]: the annotations of image k
    positions: np.ndarray | None = None
    image_base: int = 0

    def __post_init__(self, owner):
        self.by_image, self.bounds = _group(owner, len(self.images))

    @property
    def nbytes(self) -> int:
        """The memory the packed arrays take."""
        return sum(a.nbytes for a in (self.images, self.annotations, self.image_ids, self.by_image, self.bounds))


def _scan(f, size: int, wrapped: bool = False):
    """The member spans and the element spans of a file (see :func:`segmill._json_spans.scan_block`).

    ``wrapped``: the file is a top-level array (a results file), scanned as
    the value of the one member of ``{"r": <file>}``; spans are file offsets.
    """
    from .._json_spans import ST_BAD, ST_DEPTH, ST_MEMBER, new_state, scan_block

    st = new_state()
    members = np.full((_MAX_MEMBERS, 3), -1, np.int64)
    out = np.empty((1 << 16, 3), np.int64)
    spans: dict[int, _Spans] = {}  # per member: start, end, start, end, ... (16 bytes a record, or spilled)

    def scan(view, n: int, base: int) -> None:
        done = 0
        while done < n:
            used, ne = scan_block(view[done:], n - done, base + done, st, members, out, MAX_JSON_DEPTH)
            if st[ST_BAD]:
                raise _Unstreamable
            rows = out[:ne]
            for m in np.unique(rows[:, 0]).tolist():
                mine = rows[rows[:, 0] == m] if rows[0, 0] != rows[-1, 0] else rows
                spans.setdefault(m, _Spans()).add(np.ascontiguousarray(mine[:, 1:]).tobytes())
            done += used

    if wrapped:
        scan(np.frombuffer(_WRAP, np.uint8), len(_WRAP), -len(_WRAP))
    buf = bytearray(BLOCK)
    view = np.frombuffer(buf, np.uint8)
    base = 0
    while base < size:
        n = f.readinto(buf)
        if not n:
            break
        scan(view, n, base)
        base += n
    if wrapped:
        scan(np.frombuffer(b"}", np.uint8), 1, size)
    count = int(st[ST_MEMBER]) + 1
    if st[ST_DEPTH] != 0 or not 0 < count <= _MAX_MEMBERS:
        raise _Unstreamable
    return members[:count], spans


def _read(fd: int, start: int, end: int, path=None) -> bytes:
    """Bytes ``start..end`` of the file; short when it shrank since it was scanned: an InputError naming
    ``path`` (records read back for the items), else :class:`_Unstreamable` (the scan: read it whole)."""
    data = os.pread(fd, end - start, start)
    if len(data) != end - start:
        if path is not None:
            raise InputError("the file changed while it was read", path)
        raise _Unstreamable
    return data


def _between(fd: int, start: int, end: int, sep: bytes) -> None:
    """The bytes between two spans are white space around one ``sep`` (``b""``: none)."""
    gap = _read(fd, start, end).strip(_SPACE) if end > start else b""
    if gap != sep:
        raise _Unstreamable


def _top(fd: int, size: int, members: np.ndarray) -> tuple[dict, dict]:
    """The document without the two big arrays, and each member's value span by key."""
    _between(fd, 0, int(members[0, 0]), b"{")
    spans, texts = {}, []
    for k, (ks, vs, ve) in enumerate(members.tolist()):
        if vs < 0 or ve < 0:
            raise _Unstreamable
        key_text = _read(fd, ks, vs).rstrip(_SPACE)
        if not key_text.endswith(b":"):
            raise _Unstreamable
        try:
            key = J._orjson.loads(key_text[:-1])
        except J._orjson.JSONDecodeError:
            raise _Unstreamable from None
        if type(key) is not str or key in spans:
            raise _Unstreamable  # a repeated key: the parsers keep the last; the whole read says so
        spans[key] = (vs, ve)
        value = b"[]" if key in _ARRAYS else _read(fd, vs, ve)
        texts.append(key_text + value)
        nxt = int(members[k + 1, 0]) if k + 1 < len(members) else size
        _between(fd, ve, nxt, b"," if k + 1 < len(members) else b"}")
    try:
        top = J._orjson.loads(b"{" + b",".join(texts) + b"}")
    except J._orjson.JSONDecodeError:
        raise _Unstreamable from None
    for key in _ARRAYS:
        if key not in spans or _read(fd, spans[key][0], spans[key][0] + 1) != b"[":
            raise _Unstreamable
    return top, spans


def _records(fd: int, spans: np.ndarray, first: int, last: int, path, what: str,
             at: int | None = None) -> tuple[list, bool]:
    """Parse records ``first..last-1`` (consecutive in the file) in one call: ``(records, nonfinite)``.

    What orjson refuses goes to the standard parser (``NaN``, integers
    beyond 64 bits), as the whole read does; invalid JSON is an
    :class:`~segmill.errors.InputError` naming the records (from ``at``,
    their position in the file, when ``spans`` are a part's).
    """
    where = f"{what}[{first if at is None else at}:{last if at is None else at + last - first}]"
    text = b"[" + _read(fd, int(spans[first, 0]), int(spans[last - 1, 1]), path) + b"]"
    try:
        recs, nonfinite = J._orjson.loads(text), False
    except J._orjson.JSONDecodeError:
        try:
            recs, nonfinite = jsonio.parse(text, None)
        except InputError as exc:
            raise InputError(exc.message, path, where) from None
    if len(recs) != last - first:
        raise InputError("invalid JSON: the records are not separated by commas", path, where)
    return recs, nonfinite


def _ids(fd: int, spans: np.ndarray, first: int, last: int) -> np.ndarray:
    """``(kind, value)`` of ``id``, ``image_id``, ``category_id`` of records ``first..last-1`` (see ``record_ids``)."""
    from .._json_spans import record_ids

    base = int(spans[first, 0])
    data = _read(fd, base, int(spans[last - 1, 1]))
    out = np.empty((last - first, 6), np.int64)
    rel = spans[first:last] - base
    record_ids(np.frombuffer(data, np.uint8), np.ascontiguousarray(rel[:, 0]), np.ascontiguousarray(rel[:, 1]), out)
    return out


def document_spans(f, size: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """``(document without its two big arrays, image record spans, annotation record spans)`` of an open file.

    The one scan of a COCO-shaped JSON (instances, panoptic) every index
    starts from: member spans, the top-level values, then the element spans
    of ``images`` and ``annotations`` with the text between them checked.
    Raises :class:`_Unstreamable` where the scan cannot vouch for the file.
    """
    members, spans = _scan(f, size)
    fd = f.fileno()
    top, values = _top(fd, size, members)
    keys = list(values)
    images = _array_spans(fd, spans, keys.index("images"), values["images"])
    anns = _array_spans(fd, spans, keys.index("annotations"), values["annotations"])
    return top, images, anns


def _array_spans(fd: int, spans: dict, member: int, span: tuple) -> np.ndarray:
    """The element spans of one top-level array, with the brackets and commas between them checked."""
    rows = spans.pop(member, _Spans()).result()
    start, end = span
    if not len(rows):
        _between(fd, start + 1, end - 1, b"")
        return rows
    _between(fd, start + 1, int(rows[0, 0]), b"")
    _between(fd, int(rows[-1, 1]), end - 1, b"")
    for a in range(RUN, len(rows), RUN):  # within a run the parser checks the commas
        _between(fd, int(rows[a - 1, 1]), int(rows[a, 0]), b",")
    return rows


def _column(found: np.ndarray, k: int, out: array, optional: bool = False) -> None:
    """Append the values of key ``k`` to ``out`` when every one is an integer (absent ones skipped where
    ``optional``); else unstreamable."""
    from .._json_spans import ABSENT, INTEGER

    kinds = found[:, 2 * k]
    ok = kinds == INTEGER
    if not (ok.all() or (optional and np.all(ok | (kinds == ABSENT)))):
        raise _Unstreamable
    out.frombytes(found[ok, 2 * k + 1].tobytes())


def build_index(path) -> CocoIndex | None:
    """Index a COCO instances file for streaming; ``None`` when it must be read whole (see the module docs)."""
    if J._orjson is None:
        return None
    path = Path(path)
    image_ids, ann_ids, cat_refs = array("q"), array("q"), array("q")
    try:
        with open(path, "rb") as f, J.no_gc():
            fd = f.fileno()
            top, images, anns = document_spans(f, os.fstat(fd).st_size)
            for a in range(0, len(images), RUN):
                _column(_ids(fd, images, a, min(a + RUN, len(images))), 0, image_ids)
            ids = np.frombuffer(image_ids, np.int64)
            if not _unique(ids.copy()):
                raise _Unstreamable  # the whole read words the problem
            order = np.argsort(ids, kind="stable")
            owners = array("i" if len(ids) < 2**31 else "q")  # per annotation, its image's position
            for a in track(range(0, len(anns), RUN), -(-len(anns) // RUN), "indexing annotations"):
                found = _ids(fd, anns, a, min(a + RUN, len(anns)))
                _column(found, 0, ann_ids)
                refs = array("q")
                _column(found, 1, refs)
                owner = _positions(ids, order, np.frombuffer(refs, np.int64))
                if owner is None:
                    raise _Unstreamable  # an annotation of an image not listed: the whole read words it
                owners.frombytes(owner.astype(owners.typecode).tobytes())
                _column(found, 2, cat_refs, optional=True)
                cat_refs = array("q", set(cat_refs))  # a few distinct values
    except _Unstreamable:
        return None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path) from None
    if not _unique(np.frombuffer(ann_ids, np.int64)):
        return None  # the whole read words the problem
    del ann_ids
    cats = top.get("categories")
    declared = [c.get("id") for c in cats if type(c) is dict] if type(cats) is list else []
    try:
        if len(set(declared)) != len(declared) or not set(cat_refs) <= set(declared):
            return None
    except TypeError:  # an unhashable category id: the whole read words it
        return None
    return CocoIndex(path, top, images, anns, np.frombuffer(owners, owners.typecode), ids)


def _unique(values: np.ndarray) -> bool:
    """No value twice (sorts ``values`` in place)."""
    values.sort()
    return not len(values) or bool(np.all(values[1:] != values[:-1]))


def _positions(ids: np.ndarray, order: np.ndarray, refs: np.ndarray) -> np.ndarray | None:
    """The position in ``ids`` (sorted by ``order``) of each of ``refs``; None when one is not there."""
    if not len(refs):
        return np.empty(0, np.int64)
    if not len(ids):
        return None
    where = np.searchsorted(ids, refs, sorter=order)
    np.minimum(where, len(ids) - 1, out=where)
    found = order[where]
    if not np.array_equal(ids[found], refs):
        return None
    return found


def _group(owner: np.ndarray, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """``(by_image, bounds)``: annotation positions grouped by image (file order within), and where each
    image's group starts; ``np.argsort(owner, kind="stable")`` in 4 bytes an annotation, by counting."""
    bounds = np.zeros(n_images + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=n_images), out=bounds[1:])
    by_image = np.empty(len(owner), np.int32 if len(owner) < 2**31 else np.int64)
    _fill_groups(owner, bounds, by_image)
    return by_image, bounds


@njit(cache=True, nogil=True)
def _fill_groups(owner, bounds, out):
    """Counting sort: ``out[bounds[o] + r] = j`` for the ``r``-th annotation ``j`` of image ``o``."""
    fill = bounds[:-1].copy()
    for j in range(owner.shape[0]):
        o = owner[j]
        out[fill[o]] = j
        fill[o] += 1


class CocoItems:
    """The items of an indexed file, in file order, a batch of images at a time (an iterator)."""

    #: The index found every image id unique before the first item (the stream needs no set of them).
    ids_unique = True
    #: The records are a results file's (:mod:`segmill.formats._coco_results_stream`).
    results = False

    def __init__(self, index: CocoIndex, cats: list, err: _Errors):
        self.index, self.err = index, err
        self.cat_ids = {c.id for c in cats}
        self._gen = self._items()
        self._seen = 0

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def _items(self):
        n = len(self.index.images)
        for a in range(0, n, BATCH):
            yield from self.items_at(np.arange(a, min(a + BATCH, n)))

    def _attach_at(self, fd: int, items: list, positions: np.ndarray) -> None:
        """Read the annotations at ``positions`` (sorted; those of ``items``) into ``items``."""
        ix = self.index
        if not len(positions):
            return
        where = positions if ix.positions is None else ix.positions[positions]  # in the file
        cuts = np.flatnonzero(np.diff(where) != 1) + 1
        parsed = [(int(w[0]), *_records(fd, ix.annotations, int(r[0]), int(r[-1]) + 1, ix.path, "annotations",
                                        int(w[0])))
                  for r, w in zip(np.split(positions, cuts), np.split(where, cuts))]
        nonfinite = any(p[2] for p in parsed)
        reader = _AnnotationReader(items, self.cat_ids, self.err, nonfinite, CocoOrder(), self.results, True)
        for first, recs, _ in parsed:
            if not all(type(r) is dict for r in recs) or any(r.get("image_id") not in reader.by_id for r in recs):
                raise InputError("the file changed while it was read", ix.path)
            reader.feed(recs, first)
        reader.finish()

    def items_at(self, ks) -> list:
        """The items at positions ``ks`` (ascending) of the file's images, each with its annotations, as the
        stream yields them: for a reader that takes images out of file order (``segmill merge``)."""
        ix = self.index
        ks = np.asarray(ks, np.int64)
        if not len(ks):
            return []
        with open(ix.path, "rb") as f, J.no_gc():
            fd = f.fileno()
            recs: list = []
            for r in np.split(ks, np.flatnonzero(np.diff(ks) != 1) + 1):
                recs += _records(fd, ix.images, int(r[0]), int(r[-1]) + 1, ix.path, "images",
                                 ix.image_base + int(r[0]))[0]
            items = read_images(recs, self.err)
            if [it.id for it in items] != ix.image_ids[ks].tolist():
                raise InputError("the file changed while it was read", ix.path)
            lo, hi = ix.bounds[ks], ix.bounds[ks + 1]
            self._attach_at(fd, items, np.sort(np.concatenate([ix.by_image[a:b] for a, b in zip(lo, hi)])))
        return items

    def image_batches(self):
        """The images in file order, without their annotations, a batch (a list) at a time."""
        ix = self.index
        with open(ix.path, "rb") as f:
            fd = f.fileno()
            for a in range(0, len(ix.images), BATCH):
                with J.no_gc():
                    recs, _ = _records(fd, ix.images, a, min(a + BATCH, len(ix.images)), ix.path, "images")
                    yield read_images(recs, self.err)

    def annotation_ids(self) -> np.ndarray:
        """The annotation ids in item order (the images in file order, each image's annotations in file order)."""
        ix = self.index
        ids = array("q")
        with open(ix.path, "rb") as f:
            for a in range(0, len(ix.annotations), RUN):
                ids.frombytes(_ids(f.fileno(), ix.annotations, a, min(a + RUN, len(ix.annotations)))[:, 1].tobytes())
        return np.frombuffer(ids, np.int64)[ix.by_image]

    @property
    def annotation_total(self) -> int:
        """How many annotations the file holds (what :meth:`annotation_positions` counts)."""
        return len(self.index.annotations)

    def annotation_positions(self, k: int) -> np.ndarray:
        """The positions in the file of the annotations of the ``k``-th image, in the order it holds them."""
        ix = self.index
        return ix.by_image[ix.bounds[k]:ix.bounds[k + 1]]

    def finish_dataset(self, ds: Dataset) -> None:
        """Once every item is in ``ds``: the file order of the annotations, as :func:`read` records it."""
        order = CocoOrder()
        flat = [(ann, it) for it in ds.items for ann in it.annotations]
        for k in np.argsort(self.index.by_image, kind="stable").tolist():
            ann, it = flat[k]
            order.anns.append(ann)
            order.items.append(it)
            order.ids.append(ann.id)
        ds.meta["coco"]["order"] = order


def stream_instances(path, errors: str = "raise"):
    """``(header, items)`` of a COCO instances file, or ``None`` when it must be read whole."""
    err = _Errors(errors, path)
    if err.mode != "raise":
        return None
    index = build_index(path)
    if index is None:
        return None
    header = _header(index.top, err)
    return header, CocoItems(index, header.categories, err)


def _header(top: dict, err: _Errors, order=None) -> Dataset:
    """The dataset without its items, from the document without its two big arrays."""
    cats = read_categories(top.get("categories"), err)
    extra_top = {k: v for k, v in top.items() if k not in ("info", "licenses", "images", "annotations", "categories")}
    header = Dataset(cats, [], top.get("info"), top.get("licenses"), extra_top)
    build_dataset_meta(header, top, order, err)
    return header


# -- parts: runs of images read apart (sharded runs, segmill.distributed) --------------------------------------


@dataclass(eq=False)
class CocoPart:
    """A run of a COCO file's images, with what a worker needs to read them without indexing the file.

    Made on the driver from its index (:func:`plan_parts`): the spans of
    the run's images and of their annotations, so that a worker reads only
    those bytes. The index checked the whole file (unique ids, every
    reference declared) before the parts were made.

    Attributes
    ----------
    start, stop : int
        The images ``[start, stop)`` of the file, in file order.
    size, mtime_ns : int
        The file as indexed (a changed file is an error, not other items).
    top : dict
        The document without its two big arrays (the header).
    images, image_ids : ndarray of int64
        Spans and ids of the run's images.
    annotations, positions, owner : ndarray
        Spans of the run's annotations, their positions in the file's
        ``annotations`` (ascending) and their image (from 0 in the run).
    file_order : ndarray or None
        The first part only: for every annotation of the file in item
        order, its position in the file (:class:`FileOrder`).
    """

    start: int
    stop: int
    size: int
    mtime_ns: int
    top: dict
    images: np.ndarray
    image_ids: np.ndarray
    annotations: np.ndarray
    positions: np.ndarray
    owner: np.ndarray
    file_order: np.ndarray | None = None

    def __repr__(self):
        return f"CocoPart(images {self.start}:{self.stop}, {len(self.positions)} annotations)"


class FileOrder:
    """COCO's file order of the annotations, as the first part of a sharded read sends it to the driver.

    Stands in ``meta["coco"]["order"]`` until the driver has every item:
    :meth:`restricted` (see :func:`segmill.model.carried_meta`) then gives
    the :class:`CocoOrder` that :func:`read` records.
    """

    def __init__(self, by_image: np.ndarray):
        self.by_image = by_image

    def __repr__(self):
        return f"FileOrder({len(self.by_image)} annotations)"

    def in_item_order(self) -> bool:
        """Whether the file holds the annotations in the items' order (the writer then writes them so)."""
        return bool(np.all(np.diff(self.by_image) > 0))

    def restricted(self, items) -> CocoOrder | None:
        """The order of the annotations of ``items`` (every item of the file), or ``None`` when they are not."""
        flat = [(ann, it) for it in items for ann in it.annotations]
        if len(flat) != len(self.by_image):
            return None
        order = CocoOrder()
        for k in np.argsort(self.by_image, kind="stable").tolist():
            ann, it = flat[k]
            order.anns.append(ann)
            order.items.append(it)
            order.ids.append(ann.id)
        return order


def _cuts(bounds: np.ndarray, n: int) -> list[int]:
    """Image positions cutting the file into at most ``n`` runs of about equal records (images + annotations)."""
    images = len(bounds) - 1
    weight = bounds + np.arange(images + 1)  # records up to each image
    total = int(weight[-1])
    cuts = [0]
    for j in range(1, n):
        k = int(np.searchsorted(weight, total * j // n, side="left"))
        if cuts[-1] < k < images:
            cuts.append(k)
    cuts.append(images)
    return cuts


def plan_parts(path, n: int) -> list[CocoPart] | None:
    """At most ``n`` parts of a COCO file, runs of images in file order; ``None`` when it must be read whole.

    The driver indexes the file once; each part carries the spans of its
    records (16 bytes a record, 4 more an annotation), so workers neither
    scan nor hold the whole file's index.
    """
    index = build_index(path)
    if index is None:
        return None
    st = os.stat(path)
    cuts = _cuts(index.bounds, max(1, n))
    parts = []
    for j, (a, b) in enumerate(itertools.pairwise(cuts)):
        lo, hi = int(index.bounds[a]), int(index.bounds[b])
        pos = index.by_image[lo:hi].astype(np.int64)
        owner = np.repeat(np.arange(b - a, dtype=np.int32 if b - a < 2**31 else np.int64),
                          np.diff(index.bounds[a:b + 1]))  # as build_index's (one compiled _fill_groups)
        o = np.argsort(pos, kind="stable")
        parts.append(CocoPart(a, b, st.st_size, st.st_mtime_ns, index.top, np.asarray(index.images[a:b]),
                              index.image_ids[a:b].copy(), np.empty((0, 2), np.int64), pos[o], owner[o],
                              index.by_image.copy() if j == 0 else None))
    _fill_spans(index.annotations, parts)
    return parts


def _fill_spans(spans, parts: list[CocoPart]) -> None:
    """Give each part the spans of its annotations, reading ``spans`` (maybe spilled) a run at a time."""
    out = [[] for _ in parts]
    step = max(RUN, 1 << 16)
    for c in range(0, len(spans), step):
        rows = np.asarray(spans[c:c + step])
        for k, part in enumerate(parts):
            a, b = np.searchsorted(part.positions, [c, c + step])
            if b > a:
                out[k].append(rows[part.positions[a:b] - c])
    for part, got in zip(parts, out):
        part.annotations = np.concatenate(got) if got else np.empty((0, 2), np.int64)


def part_stream(path, part: CocoPart, errors: str = "raise"):
    """``(header, items)`` of one part of a COCO file: its images in file order, as the whole stream yields them.

    The header and ``meta`` are the whole read's, but for ``meta["coco"]["order"]``: a
    :class:`FileOrder` in the first part (the driver resolves it once it has every item), ``None`` in the others.

    Raises
    ------
    segmill.errors.InputError
        The file changed since the part was made, or a record does not read.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path) from None
    if (st.st_size, st.st_mtime_ns) != (part.size, part.mtime_ns):
        raise InputError("the file changed since it was cut into shards", path)
    err = _Errors(errors, path)
    header = _header(part.top, err, None if part.file_order is None else FileOrder(part.file_order))
    index = CocoIndex(path, part.top, part.images, part.annotations, part.owner, part.image_ids,
                      positions=part.positions, image_base=part.start)
    return header, _PartItems(index, header.categories, err)


class _PartItems(CocoItems):
    """The items of a part (:class:`CocoItems` over the part's index), without what only the whole file has."""

    annotation_positions = annotation_total = finish_dataset = None
