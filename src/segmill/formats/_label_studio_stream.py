"""A Label Studio JSON export read as a stream: the list scanned for its tasks' spans, then a task at a time.

The export is one JSON list of tasks. :func:`segmill._json_spans.scan_block`
finds the byte span of each element of a top-level array of an object;
the list is scanned as the value of an object around it (``{"":`` before
the file, ``}`` after, at offsets outside it), a block at a time, so the
file is never in memory whole. Two passes over the file:

1. every task is parsed (:func:`segmill.jsonio.parse`, as the whole read
   parses the list) and the text between them checked (a comma, white
   space), so the stream vouches that the whole read would parse the same
   list; the labels of the regions read (the categories, in order of first
   appearance) and the tasks left out are taken from each
   (:meth:`~segmill.formats._label_studio_read.Reader.labels`);
2. the tasks are parsed again one by one and turned into items by the
   reader's own code (:meth:`~segmill.formats._label_studio_read.Reader.items`).

Memory holds one task and the reader's set of task ids. A sharded read
makes the first pass once, on the driver (:func:`shard_tasks`), and each
part takes what it found from its selection. Whatever the scan
cannot vouch for (a file that is not one list, one task, a JSON-MIN export,
whose records of a task may lie anywhere in the file, invalid JSON, whose
message names its line in the whole file, nesting deeper than the limit)
makes the stream read the file whole (``None``): the same items, more memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import islice

import numpy as np

from .. import jsonio
from ..errors import InputError
from ..limits import MAX_JSON_DEPTH
from ..model import Category, Dataset
from ._coco_stream import RUN, _SPACE, _read, _Unstreamable
from ._file_runs import first_annotation_id, header_of, runs, with_headers
from ._label_studio_read import ReadSettings, Reader, header, task_record
from ._label_studio_tasks import layout_of

__all__ = ["shard_tasks", "stream_tasks"]

#: Bytes read per block while scanning (the spans found per call of the scan: the COCO scanner's RUN).
BLOCK = 1 << 20
_STARTS = frozenset(b'{["-0123456789tfn')  # the first bytes of JSON values
_BEFORE, _AFTER = b'{"":', b"}"  # the object the list is scanned as the value of


def stream_tasks(s: ReadSettings, selection: dict | None = None) -> tuple[Dataset, Iterator] | None:
    """The header and the items of the export at ``s.path`` (raising mode), or ``None`` to read it whole.

    ``selection``: the tasks ``start:stop`` only (see :mod:`segmill.formats._file_runs`), their annotations
    numbered from its first id; it carries what the first pass found (:func:`shard_tasks`): the categories,
    and the ids of the tasks before the run that a task of the run has again (the read's duplicates).
    """
    start, stop = (0, None) if selection is None else (selection["start"], selection["stop"])
    try:
        names, left_out, seen = header_of(selection, lambda: _part_header(s, start))
    except _Unstreamable:
        return None
    s.layout = "json"
    ds = header(s)
    ds.categories = [Category(k, name) for k, name in enumerate(names, 1)]
    if left_out:
        ds.meta["label_studio_left_out"] = left_out
    reader = Reader(s, ds.categories)
    reader.seen, reader.next_id = set(seen), first_annotation_id(selection)  # the part's own: it adds to it
    return ds, _items(reader, start, stop)


def shard_tasks(s: ReadSettings, n: int) -> list[dict] | None:
    """At most ``n`` selections of :func:`stream_tasks`: runs of tasks of about equal bytes, or ``None`` where
    the stream reads the file whole.

    The first pass is made here, once: each selection carries the labels,
    the tasks left out and the ids its part must know were taken before its
    run (:func:`_taken_before`).
    """
    try:
        names, left_out, ids, sizes = _first_pass(s, None, sizes=True)
    except _Unstreamable:
        return None
    sels = runs(sizes, n)
    return with_headers(sels, [(names, left_out, seen) for seen in _taken_before(ids, sels)])


def _part_header(s: ReadSettings, start: int) -> tuple[list[str], int, set]:
    """``(labels, tasks left out, ids of the tasks before the ``start``-th)``, from a first pass made here."""
    names, left_out, ids, _ = _first_pass(s, start)
    return names, left_out, {i for i in ids if i is not _REFUSED}


def _taken_before(ids: list, selections: list[dict]) -> Iterator[set]:
    """For each selection, the ids (:func:`_first_pass`) of the tasks of its run that a task before the run
    has: all a part must know of the ids before it to refuse a duplicate as the whole read does."""
    before: set = set()
    for sel in selections:
        run = [i for i in ids[sel["start"]:sel["stop"]] if i is not _REFUSED]
        yield {i for i in run if i in before}
        before.update(run)


#: The id :func:`_first_pass` gives a task whose id the read refuses.
_REFUSED = object()


def _first_pass(s: ReadSettings, before: int | None = 0, sizes: bool = False) -> tuple[list[str], int, list, list]:
    """``(labels in order of first appearance, tasks left out, the item id of each task before the
    ``before``-th (of every one for None; :data:`_REFUSED` where the read refuses it), bytes of each task when
    ``sizes``)``; :class:`_Unstreamable` when read whole."""
    reader = Reader(s)
    found: dict = {}
    left_out = 0
    layout = None
    ids, spans = [], []
    for k, (task, size) in enumerate(_tasks(s.path, checked=True)):
        if layout is None and isinstance(task, dict):
            layout = layout_of(task)
            if layout != "json":
                raise _Unstreamable
        if sizes:
            spans.append(size)
        rec = task_record(task, k)
        if before is None or k < before:
            ids.append(_task_id(reader, task, k, rec))
        try:
            out, names = reader.labels(task, rec)
        except InputError:  # the read refuses the task (whatever the categories)
            continue
        left_out += out
        found.update(dict.fromkeys(names))
    return list(found), left_out, ids, spans


def _task_id(reader: Reader, task, k: int, rec: str):
    """The item id of the ``k``-th task, :data:`_REFUSED` where the read refuses the task for it."""
    if not isinstance(task, dict):
        return _REFUSED
    try:
        return reader.task_id(task, k, rec)
    except InputError:
        return _REFUSED


def _items(reader: Reader, start: int = 0, stop: int | None = None):
    """The items of the reader (the tasks ``start:stop``), the categories found first; a new one means the file
    changed."""
    n = len(reader.cats)
    tasks = islice((task for task, _ in _tasks(reader.s.path, checked=False)), start, stop)
    for item in reader.items(tasks, start):
        if len(reader.cats) != n:
            raise InputError("the export changed while it was read", reader.s.path)
        yield item


def _tasks(path, checked: bool) -> Iterator:
    """``(task, bytes)`` of each task of the list, parsed; ``checked``: the text around them too (else
    :class:`_Unstreamable`), else what no longer scans or parses means the file changed."""
    try:
        yield from _scanned_tasks(path, checked)
    except (_Unstreamable, OSError):  # (not a file: the whole read says so)
        if checked:
            raise _Unstreamable from None
        raise InputError("the export changed while it was read", path) from None


def _scanned_tasks(path, checked: bool) -> Iterator:
    with open(path, "rb") as f:
        fd = f.fileno()
        scan = _Scan(f)
        at = None  # where the text before the next task starts (after "[" or the last task)
        for start, end in scan:
            if at is None:
                at = scan.opened(fd) + 1
            data = _read(fd, at, end)
            gap, text = data[: start - at], data[start - at:]
            if gap.strip(_SPACE) != (b"," if at > scan.value[0] + 1 else b"") or text[0] not in _STARTS:
                raise _Unstreamable  # text the scan passes over (a byte-order mark) would be read as the task's
            yield _parsed(text, path), end - start
            at = end
        if checked:
            scan.closed(fd, at)


def _parsed(text: bytes, path):
    try:
        return jsonio.parse(text, path)[0]
    except InputError:  # invalid JSON: the whole read's message names its place in the file
        raise _Unstreamable from None


class _Scan:
    """The ``(start, end)`` byte spans of the elements of the file's top-level list, in file order.

    After the iteration, :attr:`value` is the span of the list itself (its
    ``[`` to its ``]``). Raises :class:`_Unstreamable` when the scan finds
    nesting deeper than :data:`~segmill.limits.MAX_JSON_DEPTH` or no single
    value.
    """

    def __init__(self, f):
        from .._json_spans import new_state

        self._f = f
        self._st = new_state()
        self._members = np.full((2, 3), -1, np.int64)
        self.value = (-1, -1)

    def __iter__(self):
        from .._json_spans import ST_BAD, ST_DEPTH, ST_MEMBER, scan_block

        st, members, out = self._st, self._members, np.empty((RUN, 3), np.int64)
        for base, view, n in self._blocks():
            done = 0
            while done < n:
                # the list is one level deeper than in the file: the limit is one more
                used, ne = scan_block(view[done:], n - done, base + done, st, members, out, MAX_JSON_DEPTH + 1)
                if st[ST_BAD]:
                    raise _Unstreamable
                yield from out[:ne, 1:].tolist()
                done += used
        if st[ST_DEPTH] != 0 or st[ST_MEMBER] != 0 or members[0, 1] < 0 or members[0, 2] < 0:
            raise _Unstreamable
        self.value = (int(members[0, 1]), int(members[0, 2]))

    def _blocks(self):
        """``(file offset, uint8 array, length)`` of the object's head, the file's blocks, its end."""
        yield -len(_BEFORE), np.frombuffer(bytearray(_BEFORE), np.uint8), len(_BEFORE)
        buf = bytearray(BLOCK)
        view = np.frombuffer(buf, np.uint8)
        base = 0
        while n := self._f.readinto(buf):
            yield base, view, n
            base += n
        yield base, np.frombuffer(bytearray(_AFTER), np.uint8), len(_AFTER)

    def opened(self, fd: int) -> int:
        """Where the list opens (once the first element was found): white space only before its ``[``."""
        start = int(self._members[0, 1])
        self.value = (start, -1)
        if start < 0 or _read(fd, 0, start + 1).lstrip(_SPACE) != b"[":
            raise _Unstreamable
        return start

    def closed(self, fd: int, at: int | None) -> None:
        """The list ends with white space then ``]`` after ``at`` (its last element's end), then white space."""
        start, end = self.value
        size = os.fstat(fd).st_size
        at = start + 1 if at is None else at
        if at == start + 1 and _read(fd, 0, start + 1).lstrip(_SPACE) != b"[":
            raise _Unstreamable
        if size - at > BLOCK or _read(fd, at, size).strip(_SPACE) != b"]" or _read(fd, end - 1, end) != b"]":
            raise _Unstreamable
