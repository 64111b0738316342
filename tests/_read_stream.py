"""The whole read as the oracle of a format's stream (``FormatSpec.stream``): shared by the read-stream tests.

A stream (``segmill.stream``) must give what ``segmill.read`` gives: the
header (categories, meta, dataset fields) before the first item, then the
same items; or the read's error (message, file, record, type), after the
items before it (``streamed_until_error``, ``fails_alike``). A streamed
``segmill check`` finds what the whole check finds (``same_check``), and
``segmill convert`` of a stream writes the files of the whole write
(``same_convert``; given ``monkeypatch``, the target's ``write_stream`` is
counted, so a test cannot pass by reading whole). ``written_as_read``: a
random dataset (``datasets``, those of ``tests/test_roundtrip_pairs.py``)
written in a format streams as it reads. Loaded by path (``importlib``), as
``tests/_stream_writers.py`` is (loaded here as :data:`S`).
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import segmill
from segmill import synth
from segmill.check import Config, check_path
from segmill.check import streamed as dcheck
from segmill.errors import InputError, SegmillError
from segmill.transforms import streamed


def load(name: str):
    """The test module ``tests/<name>.py`` (the tests folder is no package); ``name`` may name a sub-folder."""
    spec = importlib.util.spec_from_file_location(Path(name).name, Path(__file__).parent / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


S = load("_stream_writers")


def datasets(**kwargs):
    """Random ``(dataset, oracle)`` pairs (the hypothesis strategy of tests/test_roundtrip_pairs.py)."""
    return load("test_roundtrip_pairs").datasets(**kwargs)


def synthetic(root: Path, n: int = 7) -> segmill.Dataset:
    """A synthetic COCO dataset of ``n`` images (written to ``root/src.json`` and read), to write in a format."""
    return segmill.read(synth.write_coco(root / "src.json", n, seed=3, extra_fields=False), "coco")


def outcome(fn):
    """``(value, None)``, or ``(None, (message, path, record, type))`` of the InputError ``fn`` raised."""
    try:
        return fn(), None
    except InputError as exc:
        return None, (exc.message, str(exc.path), exc.record, type(exc))


def same_as_read(path, fmt: str, bounded: bool | None = True, **options) -> segmill.Dataset | None:
    """The stream of ``path`` gives what :func:`segmill.read` gives (or its error); the dataset read.

    ``bounded``: whether the stream must read one item at a time (False: the
    format reads this input whole); None: either. The header says the
    categories, meta and dataset fields before the first item; records
    skipped may be listed as the items come.
    """
    whole, err = outcome(lambda: segmill.read(path, fmt, **options))
    st, serr = outcome(lambda: segmill.stream(path, fmt, **options))
    if serr is None:
        assert bounded is None or st.bounded == bounded
        if err is None:
            _same_header(st.header, whole)
        got, serr = outcome(st.to_dataset)
    assert serr == err
    if err is None:
        assert (got == whole or repr(got) == repr(whole)) and got.meta == whole.meta  # NaN != NaN: what they show
        assert got.items == whole.items and [i.split for i in got.items] == [i.split for i in whole.items]
        assert [[a.attributes for a in i.annotations] for i in got.items] == \
               [[a.attributes for a in i.annotations] for i in whole.items]
    return whole


def _same_header(header: segmill.Dataset, whole: segmill.Dataset) -> None:
    assert {k: v for k, v in header.meta.items() if k != "skipped"} == \
           {k: v for k, v in whole.meta.items() if k != "skipped"}
    early = header.meta.get("skipped", [])
    assert whole.meta.get("skipped", [])[:len(early)] == early
    assert header.categories == whole.categories
    assert repr((header.info, header.licenses, header.extra)) == repr((whole.info, whole.licenses, whole.extra))


def streamed_until_error(path, fmt: str, bounded: bool | None = None, **options) -> tuple[list, tuple | None]:
    """The items a stream of ``path`` yields, and the error it raises after them (or None); ``bounded``: what
    ``Stream.bounded`` must say when it opens (None: either)."""
    items = []
    try:
        st = segmill.stream(path, fmt, **options)
        assert bounded is None or st.bounded == bounded
        for item in st:
            items.append(item)
    except InputError as exc:
        return items, (exc.message, str(exc.path), exc.record, type(exc))
    return items, None


def fails_alike(path, fmt: str, at: int, whole: segmill.Dataset, **options) -> None:
    """``path`` (broken at its ``at``-th item) is refused by the read, and its stream (bounded) yields the items
    before it (equal to ``whole``'s, read before the break) and then raises the read's error."""
    _, err = outcome(lambda: segmill.read(path, fmt, **options))
    assert err is not None
    items, serr = streamed_until_error(path, fmt, True, **options)
    assert serr == err
    assert items == whole.items[:at]


def same_check(path, fmt: str, monkeypatch=None, batch: int = 2, found: bool = False) -> None:
    """A streamed check of ``path`` finds what the whole check finds (something, with ``found``); given
    ``monkeypatch``, ``batch`` images at a time."""
    if monkeypatch is not None:
        monkeypatch.setattr(streamed, "BATCH", batch)
    for select in (None, ["ALL"]):
        cfg = Config(select=select) if select else Config()
        whole = check_path(path, format=fmt, config=cfg)
        got = dcheck.check_streamed([path], format=fmt, config=cfg)
        assert got is not None and (whole.findings or not found)
        assert [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in got.findings] == \
               [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in whole.findings]
        assert (got.images, got.annotations) == (whole.images, whole.annotations)


def same_convert(src, fmt: str, to: str, tmp_path: Path, monkeypatch=None) -> None:
    """``segmill convert`` of ``src`` to ``to`` writes the files and report of the whole write; given
    ``monkeypatch``, it went through the target's ``write_stream`` once."""
    calls = S.count_writes(monkeypatch, to) if monkeypatch is not None else None
    a = segmill.convert(src, tmp_path / "s", fmt, to)
    assert calls is None or calls == [1]
    b = segmill.write(segmill.read(src, fmt), tmp_path / "w", to)
    assert S.files(S.same_tree(tmp_path, a, b))


def written_as_read(ds, fmt: str, change=None) -> None:
    """``ds`` written as ``fmt`` (unless the writer refuses it) streams as it reads; so does it after
    ``change(root)``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        try:
            segmill.write(ds, root, fmt)
        except SegmillError:
            return
        same_as_read(root, fmt)
        if change is not None:
            change(root)
            same_as_read(root, fmt)
