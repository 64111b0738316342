"""The whole read as the oracle of a format's stream (``FormatSpec.stream``): shared by the read-stream tests.

``same_as_read``: the same items, categories, meta and dataset fields (the
header's before the first item), or the same error (message, file, record,
type). ``streamed_until_error``: the items a stream yields before its error.
``same_check``: a streamed ``segmill check`` finds what the whole check
finds. ``same_convert``: a conversion of the stream writes the bytes of the
whole write. ``written_as_read``: a random dataset (``datasets``, those of
``tests/test_roundtrip_pairs.py``) written in a format streams as it reads.
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


def load(name: str):
    """The test module ``tests/<name>.py`` (the tests folder is no package); ``name`` may name a sub-folder."""
    spec = importlib.util.spec_from_file_location(Path(name).name, Path(__file__).parent / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: Random ``(dataset, oracle)`` pairs (a hypothesis strategy).
datasets = load("test_roundtrip_pairs").datasets


def synthetic(root: Path, n: int = 7) -> segmill.Dataset:
    """A synthetic COCO dataset of ``n`` images (written to ``root/src.json`` and read), to write in a format."""
    return segmill.read(synth.write_coco(root / "src.json", n, seed=3, extra_fields=False), "coco")


def outcome(fn):
    """``(value, None)`` or ``(None, (message, path, record, type))`` of the InputError ``fn`` raises."""
    try:
        return fn(), None
    except InputError as exc:
        return None, (exc.message, exc.path, exc.record, type(exc))


def same_as_read(path, fmt: str, bounded: bool | None = True, **options) -> segmill.Dataset | None:
    """The stream of ``path`` gives what :func:`segmill.read` gives (or its error); the dataset read.

    ``bounded``: whether the stream must read one item at a time (else it
    reads whole: the format refused to stream this input); None: either.
    """
    whole, err = outcome(lambda: segmill.read(path, fmt, **options))
    st, serr = outcome(lambda: segmill.stream(path, fmt, **options))
    if serr is None:
        assert bounded is None or st.bounded == bounded
        if err is None:  # what the header says before the first item
            assert st.header.meta == whole.meta and st.header.categories == whole.categories
            fields = (st.header.info, st.header.licenses, st.header.extra)
            assert repr(fields) == repr((whole.info, whole.licenses, whole.extra))  # NaN != NaN: what they show
        got, serr = outcome(st.to_dataset)
    assert serr == err
    if err is None:
        assert (got == whole or repr(got) == repr(whole)) and got.meta == whole.meta and got.items == whole.items
        assert [i.split for i in got.items] == [i.split for i in whole.items]
    return whole


def streamed_until_error(path, fmt: str, **options) -> tuple[list, tuple | None]:
    """The items a stream of ``path`` yields, and the error it raises after them (or None)."""
    items = []
    try:
        st = segmill.stream(path, fmt, **options)
        assert st.bounded
        for item in st:
            items.append(item)
    except InputError as exc:
        return items, (exc.message, exc.path, exc.record, type(exc))
    return items, None


def fails_alike(path, fmt: str, at: int, whole: segmill.Dataset, **options) -> None:
    """``path`` (broken at its ``at``-th item) is refused by the read, and its stream yields the items before
    it (equal to ``whole``'s, read before the break) and then raises the read's error."""
    _, err = outcome(lambda: segmill.read(path, fmt, **options))
    assert err is not None
    items, serr = streamed_until_error(path, fmt, **options)
    assert serr == err
    assert items == whole.items[:at]


def same_check(path, fmt: str) -> None:
    """A streamed ``segmill check`` of ``path`` finds what the whole check finds."""
    for select in (None, ["ALL"]):
        cfg = Config(select=select) if select else Config()
        whole = check_path(path, format=fmt, config=cfg)
        got = dcheck.check_streamed([path], format=fmt, config=cfg)
        assert got is not None
        assert [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in got.findings] == \
               [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in whole.findings]
        assert (got.images, got.annotations) == (whole.images, whole.annotations)


def same_convert(path, fmt: str, to: str, tmp_path: Path) -> None:
    """``segmill convert`` of ``path`` (streamed) writes the bytes :func:`segmill.write` of the read writes."""
    segmill.convert(path, tmp_path / "s", fmt, to)
    segmill.write(segmill.read(path, fmt), tmp_path / "w", to)
    a = {p.relative_to(tmp_path / "s"): p.read_bytes() for p in (tmp_path / "s").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "w"): p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()}
    assert a == b and a


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
