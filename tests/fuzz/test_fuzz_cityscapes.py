"""Structured fuzzing of the Cityscapes reader and writer.

Seeds: ``fixtures/cityscapes/basic`` (labelIds, instanceIds and polygons.json)
and ``../shared/corpus/datumaro/cityscapes_dataset/*`` (skipped, with the
reason, when absent). Each example copies one seed and mutates ONE file: a
label PNG re-encoded (mode, size, palette, bit depth, values outside the
label table, bomb header), a ``polygons.json`` value replaced / deleted /
nested (NaN, huge integers, wrong types), bytes flipped or cut, a file made a
directory or a symbolic link out of ``gtFine``, an odd file name. The
``source`` option picks which file kind is read.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes back
to Cityscapes completely or is refused with a ``SegmillError``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import segmill

_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

REPO = Path(__file__).resolve().parents[2]
SEEDS = {
    "fixtures/cityscapes": REPO / "fixtures" / "cityscapes" / "basic",
    **{f"datumaro/{n}": REPO.parent / "shared" / "corpus" / "datumaro" / "cityscapes_dataset" / n
       for n in ("dataset", "train_dataset")},
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SOURCES = ["auto", "instanceIds", "labelIds", "polygons"]


def _seed(name: str) -> Path:
    if not SEEDS[name].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name]


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file under ``gtFine`` of the Cityscapes tree at ``root``."""
    f = data.draw(st.sampled_from(mut.files_of(root / "gtFine")), "file")
    kinds = ["bytes", "replace"]
    kinds += {".png": ["png"] * 3, ".json": ["json"] * 4}.get(f.suffix, [])
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "json":
        return mut.mutate_json(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


def _round_trip(seed, data, reads_or_refuses, writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(seed, tmp / "ds")
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        source = data.draw(st.sampled_from(SOURCES), "source")
        raster = data.draw(st.sampled_from(["coco", "pil"]), "raster")
        ds = reads_or_refuses(root, "cityscapes", errors=errors, source=source, raster=raster)
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / "out", "cityscapes")


@FUZZ
@given(data=st.data())
def test_mutated_fixture_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    _round_trip(_seed("fixtures/cityscapes"), data, reads_or_refuses, writes_or_refuses)


@settings(FUZZ, max_examples=_LONG or 30)
@given(data=st.data(), seed=st.sampled_from([k for k in SEEDS if k.startswith("datumaro/")]))
def test_mutated_datumaro_cityscapes_reads_or_refuses_and_writes_or_refuses(data, seed, reads_or_refuses,
                                                                            writes_or_refuses):
    _round_trip(_seed(seed), data, reads_or_refuses, writes_or_refuses)


@pytest.mark.parametrize("source", SOURCES)
def test_the_unmutated_seeds_read_and_write_back(source, tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    for name, seed in SEEDS.items():
        if not seed.is_dir() or (source in ("polygons", "labelIds") and name.startswith("datumaro/")):
            continue  # Datumaro's export has instanceIds (and labelTrainIds) only
        ds = reads_or_refuses(seed, "cityscapes", source=source)
        assert ds is not None and ds.items, name
        assert writes_or_refuses(ds, tmp_path / f"{name.replace('/', '_')}_{source}", "cityscapes") is not None


@settings(FUZZ, max_examples=_LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ds = mut.hostile_dataset(data, z_order_text=True)
    with tempfile.TemporaryDirectory() as tmp:
        writes_or_refuses(ds, Path(tmp) / "out", "cityscapes")


@pytest.mark.parametrize("iid, size, message", [
    ("train/c/" + "a" * 300, (4, 6), "longer than a file name can be"),
    ("zero", (0, 6), "height must be an integer in \\[1, inf\\]"),
    ("huge", (100_000, 100_000), "over the pixel limit"),
])
def test_the_writer_refuses_what_no_file_can_hold_before_writing(iid, size, message, tmp_path, writes_or_refuses):
    from segmill.errors import InputError
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3]]))
    ds = Dataset([Category(1, "car")], [Item(iid, "a.jpg", width=size[1], height=size[0], annotations=[ann])])
    with pytest.raises(InputError, match=message):
        segmill.write(ds, tmp_path / "out", "cityscapes")
    assert list(tmp_path.iterdir()) == []
    assert writes_or_refuses(ds, tmp_path / "out", "cityscapes") is None


@pytest.mark.parametrize("iid", ["a\x00b", "\ud800", "../../x", "train/../..", "train/c/.."])
def test_odd_ids_become_safe_names_inside_the_output(iid, tmp_path, writes_or_refuses):
    # Cityscapes names are rebuilt from [A-Za-z0-9_.-] (the writer's _safe); nothing is refused or escapes
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3]]))
    ds = Dataset([Category(1, "car")], [Item(iid, "a.jpg", width=6, height=4, annotations=[ann])])
    assert writes_or_refuses(ds, tmp_path / "out", "cityscapes") is not None
    names = [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")]
    assert len(names) == 3 and all(n.startswith("gtFine/") and "\x00" not in n for n in names), names


@pytest.mark.parametrize("errors", ["bogus", "", None, 1])
def test_an_unknown_errors_mode_is_a_usage_error(errors):
    from segmill.errors import UsageError

    with pytest.raises(UsageError, match="errors must be one of raise, skip, keep"):
        segmill.read(SEEDS["fixtures/cityscapes"], "cityscapes", errors=errors)
