"""NIfTI, NRRD and DICOM SEG read as streams (``FormatSpec.stream``): one volume at a time, equal to ``read``.

The oracle is the whole read: the same items, categories and meta (stated
by the header before the first item: the label values of every volume, the
notes of the components dropped, the files a lenient read drops), the same
error (message, file, record) for a malformed volume, raised after the items
of the volumes before it; the same ``segmill check`` findings and the same
bytes for ``segmill convert``. A stream is counted: a first pass loads each
volume (a SEG's header only), then the items come one volume at a time.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

import segmill
from segmill.errors import InputError

nib = pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")
nrrd = pytest.importorskip("nrrd", reason="the medical extra (pynrrd) is not installed")
pytest.importorskip("cc3d", reason="the medical extra (connected-components-3d) is not installed")

from segmill.formats import _volume_read, nifti  # noqa: E402
from segmill.formats import nrrd as nrrd_format  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAVE = {"nifti": ".nii.gz", "nrrd": ".nrrd"}
MODULES = {"nifti": nifti, "nrrd": nrrd_format}

_spec = importlib.util.spec_from_file_location("_read_stream", Path(__file__).with_name("_read_stream.py"))
R = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(R)
same_as_read, streamed_until_error = R.same_as_read, R.streamed_until_error


def _save(path: Path, vol: np.ndarray) -> Path:
    if path.name.lower().endswith(".nrrd"):
        nrrd.write(str(path), vol, {"space": "left-posterior-superior", "encoding": "gzip",
                                    "space directions": np.diag([0.8, 0.9, 2.0]), "space origin": [1.0, -2.0, 3.0]})
    else:
        nib.Nifti1Image(vol, np.diag([0.8, 0.9, 2.0, 1.0])).to_filename(str(path))
    return path


def _volume(rng, shape=(9, 8, 5), labels=(1, 2, 3, 7)) -> np.ndarray:
    """Random boxes of random labels, a few of them a single voxel (dropped by ``min_area``)."""
    vol = np.zeros(shape, np.uint8)
    for _ in range(7):
        lo = [int(rng.integers(0, s - 1)) for s in shape]
        hi = [min(s, a + int(rng.integers(1, max(2, s // 2)))) for a, s in zip(lo, shape)]
        vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = rng.choice(labels)
    vol[tuple(int(rng.integers(0, s)) for s in shape)] = 9  # a lone voxel of a label no other volume has
    return vol


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """A folder of 4 volumes per format, with a label table naming some of the values."""
    out = {}
    for fmt, ext in SAVE.items():
        root = tmp_path_factory.mktemp(f"{fmt}-built")
        rng = np.random.default_rng(5)
        for k in range(4):
            _save(root / f"case{k}{ext}", _volume(rng, labels=(1, 2, 3) if k < 2 else (2, 7)))
        (root / "labels.json").write_text('{"1": "liver", "2": "spleen", "5": "unused"}')
        out[fmt] = root
    return out


@pytest.fixture
def copy(built, tmp_path):
    """``copy(fmt)``: a fresh copy of a built folder to change."""
    def make(fmt: str) -> Path:
        dst = tmp_path / fmt
        shutil.copytree(built[fmt], dst)
        return dst
    return make


OPTIONS = [
    {}, {"axis": 0}, {"axis": 1}, {"volume_instances": "components"},
    {"volume_instances": "components", "min_area": 2, "connectivity": 6},
    {"volume_instances": "components", "min_area": 4, "stuff": "liver,7"},
]


# ------------------------------------------------------------------ equal to read
@pytest.mark.parametrize("name", ["nifti/basic", "nifti/rater2", "nifti/raw", "nrrd/basic", "nrrd/raw"])
@pytest.mark.parametrize("options", OPTIONS[:2] + OPTIONS[4:5])
def test_the_fixtures_stream_as_they_read(name, options):
    ds = same_as_read(FIXTURES / name, name.split("/")[0], **options)
    assert ds.items


@pytest.mark.parametrize("fmt", sorted(SAVE))
@pytest.mark.parametrize("options", OPTIONS)
def test_built_folders_stream_as_they_read(built, fmt, options):
    ds = same_as_read(built[fmt], fmt, **options)
    assert len({i.attributes["volume"]["name"] for i in ds.items}) == 4
    names = {c.id: c.name for c in ds.categories}
    assert names[5] == "unused" and names[7] == "label_7"  # the table's values and every volume's values
    if options.get("min_area"):  # the lone voxels of label 9 dropped: no category
        assert ds.meta["read_notes"] and 9 not in names
    else:
        assert names[9] == "label_9"


@pytest.mark.parametrize("fmt", sorted(SAVE))
def test_one_file_and_a_label_table_option_stream_as_they_read(built, fmt, tmp_path):
    table = tmp_path / "t.txt"
    table.write_text('    3 255 0 0 1 1 1 "kidney"\n')
    same_as_read(built[fmt] / f"case2{SAVE[fmt]}", fmt)
    ds = same_as_read(built[fmt], fmt, labels=table)
    assert ds.meta["label_table"] == str(table)


# ------------------------------------------------------------------ lazily, one volume at a time
@pytest.mark.parametrize("fmt", sorted(SAVE))
def test_items_come_one_volume_at_a_time(built, fmt, monkeypatch):
    loads, slicings = [], []
    mod = MODULES[fmt]
    real_load, real_slices = mod.BACKEND.load, _volume_read.slice_items
    monkeypatch.setattr(mod, "BACKEND", dataclasses.replace(mod.BACKEND, load=lambda f: loads.append(f.name)
                                                            or real_load(f)))
    monkeypatch.setattr(_volume_read, "slice_items", lambda v, *a: slicings.append(v.name) or real_slices(v, *a))
    st = segmill.stream(built[fmt], fmt)
    assert st.bounded and len(loads) == 4 and slicings == []  # the first pass: label values, no item
    it = iter(st)
    first = next(it)
    assert len(loads) == 5 and slicings == ["case0"]
    per_volume = first.attributes["volume"]["slices"]
    for _ in range(per_volume - 1):  # the other slices of the volume in memory
        next(it)
    assert len(loads) == 5
    next(it)
    assert len(loads) == 6 and slicings == ["case0", "case1"]
    rest = list(it)
    assert len(loads) == 8 and len(rest) == 3 * per_volume - 1


def test_the_first_pass_splits_components_only_where_small_ones_are_dropped(built, monkeypatch):
    calls = []
    real = _volume_read.components
    monkeypatch.setattr(_volume_read, "components", lambda *a, **k: calls.append(1) or real(*a, **k))
    segmill.stream(built["nifti"], "nifti", volume_instances="components")
    assert calls == []
    segmill.stream(built["nifti"], "nifti", volume_instances="components", min_area=2)
    assert len(calls) == 4


def test_a_stream_says_its_ids_are_unique(built):
    assert getattr(segmill.stream(built["nifti"], "nifti")._items, "ids_unique", False)


# ------------------------------------------------------------------ lenient modes
@pytest.mark.parametrize("fmt", sorted(SAVE))
@pytest.mark.parametrize("errors", ["skip", "keep"])
def test_lenient_modes_stream_with_the_dropped_files_in_the_header(copy, fmt, errors):
    root = copy(fmt)
    (root / f"case1{SAVE[fmt]}").write_bytes(b"not a volume")
    st = segmill.stream(root, fmt, errors=errors)
    assert st.bounded and [Path(s["path"]).name for s in st.header.meta["skipped"]] == [f"case1{SAVE[fmt]}"]
    ds = same_as_read(root, fmt, errors=errors)
    assert len({i.attributes["volume"]["name"] for i in ds.items}) == 3


# ------------------------------------------------------------------ the same errors
def _garbage(root, name, ext):
    (root / f"{name}{ext}").write_bytes(b"\x5c\x01\x00\x00" + b"\xff" * 400)


def _truncated(root, name, ext):
    f = root / f"{name}{ext}"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _negative(root, name, ext):
    _save(root / f"{name}{ext}", -np.ones((3, 3, 2), np.int16))


def _twice(root, name, ext):
    """A second file of the volume's name (another suffix): refused where it comes."""
    f = root / f"{name}{ext}"
    vol = np.asarray(nib.load(str(f)).dataobj) if ext == ".nii.gz" else nrrd.read(str(f))[0]
    _save(root / (f"{name}.nii" if ext == ".nii.gz" else f"{name}.NRRD"), vol)


def _huge(root, name, ext):
    _save(root / f"{name}{ext}", np.zeros((120, 100, 100), np.uint8))


@pytest.mark.parametrize("fmt", sorted(SAVE))
@pytest.mark.parametrize("breaker", [_garbage, _truncated, _negative, _twice, _huge])
@pytest.mark.parametrize("at", [0, 2, 3])
def test_a_bad_volume_raises_the_reads_error_after_the_volumes_before_it(copy, fmt, breaker, at, monkeypatch):
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "1000000")
    root = copy(fmt)
    whole = segmill.read(root, fmt)
    breaker(root, f"case{at}", SAVE[fmt])
    _, err = R.outcome(lambda: segmill.read(root, fmt))
    assert err is not None
    items, serr = streamed_until_error(root, fmt)
    assert serr == err
    before = [i for i in whole.items if int(i.attributes["volume"]["name"][4:]) < at]
    if breaker is _twice:  # the first file of that name is read, the second refused
        assert [i.id for i in items] == [i.id for i in whole.items if int(i.id[4]) <= at]
    else:
        assert items == before
    for errors in ("skip", "keep"):
        same_as_read(root, fmt, errors=errors)


def test_an_unknown_stuff_name_is_refused_alike(built):
    with pytest.raises(segmill.errors.UsageError, match="stuff"):
        segmill.read(built["nifti"], "nifti", volume_instances="components", stuff="nope")
    with pytest.raises(segmill.errors.UsageError, match="stuff"):
        segmill.stream(built["nifti"], "nifti", volume_instances="components", stuff="nope").to_dataset()


def test_volumes_changed_between_the_passes_are_refused(copy):
    root = copy("nifti")
    st = segmill.stream(root, "nifti")
    _save(root / "case3.nii.gz", np.full((9, 8, 5), 11, np.uint8))
    with pytest.raises(InputError, match="the volume files changed while they were read"):
        st.to_dataset()


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(copy, monkeypatch):
    R.same_check(copy("nrrd"), "nrrd", monkeypatch, batch=3)


@pytest.mark.parametrize("to", ["voc", "labelme"])
def test_convert_streams_the_bytes_of_the_whole_write(built, tmp_path, monkeypatch, to):
    R.same_convert(built["nifti"], "nifti", to, tmp_path, monkeypatch)
