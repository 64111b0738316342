"""DICOM SEG read as a stream (``dicom_seg.stream``): one SEG file at a time, equal to ``read``.

The oracle is the whole read: the same items, categories (every file's
segments, stated by the header before the first item from the files' headers
alone) and meta (the FRACTIONAL notes), the same error (message, file) for a
malformed file, raised after the items of the files before it. The SEG files
are built with highdicom as in ``tests/test_dicom_seg.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import segmill
from segmill.errors import InputError

pytest.importorskip("pydicom", reason="the medical extra (pydicom) is not installed")
pytest.importorskip("highdicom", reason="the medical extra (highdicom) is not installed")
pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")

from segmill.formats import dicom_seg  # noqa: E402


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


D = _load("test_dicom_seg")  # its SEG builders
R = _load("_read_stream")  # the oracle


def same_as_read(path, **options):
    return R.same_as_read(path, "dicom_seg", **options)


@pytest.fixture
def folder(tmp_path):
    """Three SEG files: two BINARY ones sharing segments, a FRACTIONAL one with a segment of its own."""
    m = D.binary_masks()
    D.make_seg(tmp_path / "a.dcm", m, ["liver", "tumor", "noise"])
    D.make_seg(tmp_path / "b.dcm", m[:2, ..., :2], ["liver", "tumor"])
    D.make_seg(tmp_path / "c.dcm", m[:3, ..., :1].astype("float32") * 0.75, ["liver"], fractional=True)
    D.ct_series(1)[0].save_as(str(tmp_path / "ct.dcm"), enforce_file_format=True)  # not a SEG: ignored, noted
    return tmp_path


@pytest.mark.parametrize("options", [{}, {"axis": 0}, {"axis": 1, "threshold": 0.8}])
def test_a_folder_streams_as_it_reads(folder, options):
    ds = same_as_read(folder, **options)
    assert [c.name for c in ds.categories] == ["liver", "tumor", "noise"]
    notes = ds.meta["read_notes"]
    assert notes[0].startswith("1 .dcm file") and "FRACTIONAL" in notes[1]


def test_one_file_and_the_fixture_stream_as_they_read(folder):
    same_as_read(folder / "b.dcm")
    same_as_read(Path(__file__).resolve().parent.parent / "fixtures" / "dicom_seg" / "basic")


def test_the_first_pass_reads_headers_then_items_come_one_file_at_a_time(folder, monkeypatch):
    loads = []
    real = dicom_seg.load_seg
    monkeypatch.setattr(dicom_seg, "load_seg", lambda f, t: loads.append(f.name) or real(f, t))
    st = segmill.stream(folder, "dicom_seg")
    assert st.bounded and loads == [] and len(st.header.categories) == 3  # the headers alone
    it = iter(st)
    next(it)
    assert loads == ["a.dcm"]
    for _ in range(3):  # a.dcm's other slices
        next(it)
    assert loads == ["a.dcm"]
    next(it)
    assert loads == ["a.dcm", "b.dcm"]
    list(it)
    assert loads == ["a.dcm", "b.dcm", "c.dcm"]


def test_lenient_modes_read_whole(folder):
    for errors in ("skip", "keep"):
        assert dicom_seg.stream(folder, errors=errors) is None
        st = segmill.stream(folder, "dicom_seg", errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(folder, "dicom_seg", errors=errors)


def _conflict(folder):
    D.make_seg(folder / "b.dcm", D.binary_masks()[:2, ..., :1], ["kidney"])


def _truncated_header(folder):
    f = folder / "b.dcm"
    f.write_bytes(f.read_bytes()[:400])


def _truncated_pixels(folder):
    """The header reads (the first pass passes it), the pixel data does not."""
    f = folder / "b.dcm"
    f.write_bytes(f.read_bytes()[:-7])


def _twice(folder):
    (folder / "a.DCM").write_bytes((folder / "a.dcm").read_bytes())  # read first, then a.dcm refused


@pytest.mark.parametrize("breaker", [_conflict, _truncated_header, _truncated_pixels, _twice])
def test_a_bad_file_raises_the_reads_error_after_the_files_before_it(folder, breaker):
    whole = segmill.read(folder, "dicom_seg")
    breaker(folder)
    _, err = R.outcome(lambda: segmill.read(folder, "dicom_seg"))
    assert err is not None
    items, serr = R.streamed_until_error(folder, "dicom_seg")
    assert serr == err
    assert items == [i for i in whole.items if i.id.startswith("a/")]


def test_files_changed_between_the_passes_are_refused(folder):
    st = segmill.stream(folder, "dicom_seg")
    D.make_seg(folder / "c.dcm", D.binary_masks()[:2, ..., :1], ["liver"])  # no longer FRACTIONAL
    with pytest.raises(InputError, match="the volume files changed while they were read"):
        st.to_dataset()
