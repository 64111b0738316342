"""The JSON list of a Label Studio export written a task at a time, with the bytes of one ``json.dumps``.

``json.dumps(tasks, indent=...)`` of the whole list is each task's own dump
with its lines indented one level more, between ``[`` and ``]``: a task can be
written as it comes. Two things of the whole list are known only at the end,
and are put right then:

* a task id made for an image whose id is not an integer (L803) is the
  greatest integer id of all the images plus one per such image before it;
  :class:`TaskList` writes the greatest seen so far and rewrites it when a
  later image's id is greater;
* text holding lone surrogates cannot be UTF-8: the whole list is then
  written with ``ensure_ascii``. The tasks written before the first such task
  and not ASCII get their ``ensure_ascii`` text instead: their text escaped
  (with an ASCII indent only strings hold other characters), or, with an
  indent that is not ASCII, their ``ensure_ascii`` dump, kept aside in an
  unnamed temporary file until the end.

Memory holds a few numbers for each such task, never a task.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from ..errors import InputError

__all__ = ["TaskList"]

_CHUNK = 1 << 20
_PAST_TILDE = re.compile("[^\x00-\x7e]")  # [\x7f-\U0010ffff], which compiles 10x slower


class TaskList:
    """Tasks written one by one into the binary file ``out`` as one JSON list.

    Parameters
    ----------
    out : binary file
        Seekable and readable (a file opened ``w+b``, or :class:`io.BytesIO`).
    indent : int, str or None
        ``json.dumps``'s.
    """

    def __init__(self, out, indent):
        self.out, self.indent = out, indent
        self.error: InputError | None = None  # the first task JSON cannot hold (raised by finish)
        try:  # what json's encoder makes of an indent
            ind = None if indent is None else indent if isinstance(indent, str) else " " * indent
        except TypeError as exc:  # json.dumps of the list would raise it, even of an empty list
            self.error, ind = InputError(f"cannot write as JSON: {exc}"), None
        self._sep = ", " if ind is None else ",\n" + ind
        self._nl = None if ind is None else "\n" + ind
        self._ascii_indent = ind is None or ind.isascii()  # then only strings hold what ensure_ascii escapes
        self.count = 0
        self.ascii = False  # a task held lone surrogates: this one and the later ones are dumped with ensure_ascii
        self._wide: list = []  # (start, length, at in the aside file, tid k or None) of non-ASCII tasks
        self._aside = None
        self._made: list = []  # (start of the id's digits, their length, k) of tasks with a made-up id
        self.ids_top: int | None = None  # the greatest integer image id so far

    def _dumps(self, task, ascii: bool) -> str:
        text = json.dumps(task, indent=self.indent, ensure_ascii=ascii, allow_nan=False)
        return text if self._nl is None else text.replace("\n", self._nl)

    def add(self, task: dict, made: int | None) -> None:
        """Write ``task``; ``made`` is ``k`` when its id is the ``k``-th made up (1, 2, ...), else ``None``."""
        if self.error is not None:
            return
        try:
            text = self._dumps(task, self.ascii)
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates (read from "\ud800" escapes): the list goes escaped
                self.ascii = True
                text = self._dumps(task, True)
                data = text.encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:  # values another format put in attributes
            self.error = InputError(f"cannot write as JSON: {exc}")
            return
        self.out.write(b"[" if self.count == 0 else self._sep.encode("utf-8"))
        start = self.out.tell()
        self.out.write(data)
        k = None
        if made is not None:
            head = len(text[: text.index('"id": ') + 6].encode("utf-8"))  # "id" is a task's first key
            self._made.append((start + head, len(str(task["id"])), made))
            k = len(self._made) - 1
        if not self.ascii and not text.isascii():
            self._keep_wide(task, start, len(data), k)
        self.count += 1

    def _keep_wide(self, task, start: int, n: int, k) -> None:
        """Keep what gives the ``ensure_ascii`` text of a task written with other characters (see :meth:`_fixes`)."""
        if self._ascii_indent:  # escaped from the file at the end, if need be
            self._wide.append((start, n, None, 0, k))
            return
        if self._aside is None:
            self._aside = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish)
        wide = self._dumps(task, True).encode("utf-8")
        self._wide.append((start, n, self._aside.tell(), len(wide), k))
        self._aside.write(wide)

    def see_id(self, image_id: int) -> None:
        """An integer image id: the made-up task ids start above it."""
        if self.ids_top is None or image_id > self.ids_top:
            self.ids_top = image_id

    def made_id(self, k: int) -> int:
        """The ``k``-th made-up task id as far as known (the greatest integer id so far plus ``k``)."""
        return (self.ids_top if self.ids_top is not None else 0) + k

    def finish(self, report) -> None:
        """Close the list and put right what the later tasks changed (see the module docs); raise a JSON error."""
        if self.error is not None:
            raise self.error
        self.out.write(b"[]\n" if self.count == 0 else (b"]\n" if self._nl is None else b"\n]\n"))
        moved = any(str(self.made_id(k)) != _digits(self.out, at, n) for at, n, k in self._made)
        if moved:
            _fix_losses(report, {k: self.made_id(k) for _, _, k in self._made})
        fixes = self._fixes()
        if fixes:
            self.out = _rewritten(self.out, fixes)
        if self._aside is not None:
            self._aside.close()

    def _fixes(self) -> list:
        """``[(start, length, new bytes)]`` in file order: the ids and the non-ASCII tasks to rewrite."""
        ids = {at: (n, str(self.made_id(k)).encode()) for at, n, k in self._made
               if str(self.made_id(k)) != _digits(self.out, at, n)}
        fixes = []
        if self.ascii:
            for start, n, at, m, k in self._wide:
                if at is None:
                    wide = _escaped(_read(self.out, start, n))
                else:
                    self._aside.seek(at)
                    wide = self._aside.read(m)
                if k is not None:  # the id's digits lie as far into the escaped text (what comes before is ASCII)
                    id_at, id_n, kk = self._made[k]
                    rel = id_at - start
                    wide = wide[:rel] + str(self.made_id(kk)).encode() + wide[rel + id_n:]
                    ids.pop(id_at, None)
                fixes.append((start, n, wide))
        fixes += [(at, n, new) for at, (n, new) in ids.items()]
        return sorted(fixes, key=lambda f: f[0])


def _read(out, at: int, n: int) -> bytes:
    """``n`` bytes of ``out`` from ``at``, its position kept."""
    here = out.tell()
    out.seek(at)
    data = out.read(n)
    out.seek(here)
    return data


def _digits(out, at: int, n: int) -> str:
    return _read(out, at, n).decode("ascii")


def _escape(m) -> str:
    n = ord(m.group())
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 | (n >> 10):04x}\\u{0xDC00 | (n & 0x3FF):04x}"


def _escaped(data: bytes) -> bytes:
    """A task's JSON text as ``ensure_ascii`` writes it: each character past ``~`` escaped (strings only hold
    them when the indent is ASCII)."""
    return _PAST_TILDE.sub(_escape, data.decode("utf-8")).encode("ascii")


def _rewritten(src, fixes):
    """``src`` copied with each ``(start, length, new)`` of ``fixes`` replaced; the copy, at its end."""
    end = src.seek(0, os.SEEK_END)
    name = getattr(src, "name", None)
    if isinstance(name, (str, Path)):
        fd, part = tempfile.mkstemp(prefix=".", suffix=".part", dir=Path(name).parent)  # a name of any length
        dst = os.fdopen(fd, "w+b")
        os.chmod(part, os.stat(name).st_mode & 0o777)  # mkstemp makes 0600: the file's own permissions
    else:
        dst = type(src)()
    at = 0
    for start, n, new in fixes + [(end, 0, b"")]:
        src.seek(at)
        left = start - at
        while left > 0:
            chunk = src.read(min(_CHUNK, left))
            dst.write(chunk)
            left -= len(chunk)
        dst.write(new)
        at = start + n
    if isinstance(name, (str, Path)):
        src.close()
        dst.close()
        os.replace(part, name)
        return open(name, "r+b")
    return dst


def _fix_losses(report, ids) -> None:
    """The L803 losses say the task ids finally given (the ``k``-th L803 is the ``k``-th made-up id)."""
    old, k = report.losses, 0
    new = type(old)()
    for loss in old:
        if loss.code == "L803":
            k += 1
            head = loss.message.rsplit(" ", 1)[0]
            loss = loss._replace(message=f"{head} {ids[k]}")
        new.append(loss)
    report.losses = new
