"""The harness of the folder fuzz tests (VOC, mask folders, Cityscapes, KITTI, CamVid, ADE20K, ...).

A test module describes its format with one :class:`FolderFuzz`: the seeds,
which mutations a file gets by its suffix, the reader and writer options
drawn, and what is written (the format itself, or COCO for a read-only
format). :func:`round_trip` is the property of ``tests/fuzz/conftest.py``
applied to one mutated copy of a seed; :func:`seeds_get_through` checks the
unmutated seeds; the other functions are the writer checks several formats
share. The mutations themselves are in ``_pixel_mutations.py`` (``mut``).
Test modules load this file by path (pytest runs with
``--import-mode=importlib``, so test folders are not importable).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st

import segmill

_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

REPO = Path(__file__).resolve().parents[2]
#: Datumaro's test assets in the shared corpus (absent on most machines: those seeds skip).
DATUMARO = REPO.parent / "shared" / "corpus" / "datumaro"
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=LONG or 80, deadline=None, derandomize=not LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ERRORS = ["raise", "skip", "keep"]
#: Image ids no file can be named by: ``(id, (height, width), message)`` for :func:`refused_before_writing`.
NAMES_NO_FILE_CAN_HAVE = [
    ("a\x00b", (4, 6), "NUL byte"),
    ("a" * 300, (4, 6), "at most 255"),
    ("\ud800", (4, 6), "not valid Unicode"),
]
#: Image sizes no PNG can hold (or none under the pixel limit), as above.
SIZES_NO_FILE_CAN_HOLD = [
    ("zero", (0, 6), "height must be an integer in \\[1, inf\\]"),
    ("huge", (100_000, 100_000), "over the pixel limit"),
]
#: ``errors`` modes that do not exist.
UNKNOWN_ERRORS = ["bogus", "", None, 1]
#: How each mutation kind changes one file (``bytes`` and ``replace`` apply to every file).
MUTATORS = {"png": mut.mutate_png, "json": mut.mutate_json, "lines": mut.mutate_lines}


class FolderFuzz(NamedTuple):
    """What one format's folder fuzz test reads, mutates and writes.

    Attributes
    ----------
    fmt : str
        The format read.
    seeds : dict
        ``{name: folder}``; a folder that is absent skips its tests.
    kinds : callable
        ``kinds(path)``: the mutation kinds a file gets besides ``bytes`` and
        ``replace`` (:func:`by_suffix` makes one from a table).
    read_choices, write_choices : dict
        ``{option: values}`` drawn, in order, after ``errors`` (reading) and
        before writing.
    write_fmt : str, optional
        What a dataset read is written as (None: ``fmt``; a read-only format
        writes COCO, to ``out.json``).
    seed_options : dict
        ``{seed name: reader options}`` a seed always needs.
    files : callable
        ``files(root)``: the files of a copied seed a mutation picks from.
    prepare : callable, optional
        ``prepare(root, seed name, data)``: a variant of the copied seed, made
        before mutating (it may draw from ``data``).
    mutators : dict
        Format-specific kinds: ``{kind: function(path, data) -> description}``.
    entry : str
        The path read inside a copied seed (``""``: the folder itself).
    """

    fmt: str
    seeds: dict
    kinds: Callable
    read_choices: dict = {}
    write_choices: dict = {}
    write_fmt: str | None = None
    seed_options: dict = {}
    files: Callable = mut.files_of
    prepare: Callable | None = None
    mutators: dict = {}
    entry: str = ""

    @property
    def written_as(self) -> str:
        return self.write_fmt or self.fmt

    @property
    def out_suffix(self) -> str:
        return ".json" if self.write_fmt == "coco" else ""


def by_suffix(table: dict) -> Callable:
    """``kinds(path)`` from ``{suffix: [kind, ...]}`` (a kind listed n times is drawn n times as often)."""
    return lambda path: table.get(path.suffix, [])


def seed(spec: FolderFuzz, name: str) -> Path:
    """The folder of seed ``name``; the test skips, with the reason, when it is absent."""
    path = spec.seeds[name]
    if not path.is_dir():
        pytest.skip(f"seed {name} not found at {path} (clone the project beside shared/ to fuzz from it)")
    return path


def mutate(spec: FolderFuzz, root: Path, data, outside: Path) -> str:
    """One mutation of one file of the copied seed at ``root``; its description."""
    f = data.draw(st.sampled_from(spec.files(root)), "file")
    kind = data.draw(st.sampled_from(["bytes", "replace"] + spec.kinds(f)), "mutation")
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    if kind == "bytes":
        return mut.mutate_bytes(f, data)
    return {**MUTATORS, **spec.mutators}[kind](f, data)


def _draw_options(choices: dict, data) -> dict:
    return {option: data.draw(st.sampled_from(values), option) for option, values in choices.items()}


def round_trip(spec: FolderFuzz, name: str, data, reads_or_refuses, writes_or_refuses,
               streams_or_refuses=None) -> None:
    """Copy seed ``name``, mutate one file, read it in a drawn ``errors`` mode, write what was read.

    With ``streams_or_refuses`` the mutated input is also streamed: the dataset read, or a refusal where
    the read refused.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(seed(spec, name), tmp / "ds")
        if spec.prepare is not None:
            spec.prepare(root, name, data)
        note(mutate(spec, root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(ERRORS), "errors")
        options = _draw_options(spec.read_choices, data)
        ds = reads_or_refuses(root / spec.entry, spec.fmt, errors=errors, **options,
                              **spec.seed_options.get(name, {}))
        if streams_or_refuses is not None:
            streams_or_refuses(root / spec.entry, spec.fmt, ds, errors=errors, **options,
                               **spec.seed_options.get(name, {}))
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / f"out{spec.out_suffix}", spec.written_as,
                              **_draw_options(spec.write_choices, data))


def seeds_get_through(spec: FolderFuzz, tmp_path: Path, reads_or_refuses, writes_or_refuses, *, names=None,
                      copy: Callable | None = None, annotated: bool = True, **options) -> None:
    """Every seed present (of ``names``) reads with ``options`` and writes: the property is only worth
    something if the seeds themselves get through.

    ``copy(name, dst)`` reads a changed copy instead of the seed; ``annotated``
    asks for an annotation somewhere, else for an item.
    """
    for name in spec.seeds if names is None else names:
        if not spec.seeds[name].is_dir():
            continue
        slug = name.replace("/", "_").replace(".", "_")
        root = spec.seeds[name] if copy is None else copy(name, tmp_path / slug)
        ds = reads_or_refuses(root / spec.entry, spec.fmt, **spec.seed_options.get(name, {}), **options)
        assert ds is not None and (any(it.annotations for it in ds.items) if annotated else ds.items), name
        out = tmp_path / f"out_{slug}{spec.out_suffix}"
        assert writes_or_refuses(ds, out, spec.written_as) is not None, name


def hostile_dataset_writes_or_refuses(fmt: str, data, writes_or_refuses) -> None:
    """A dataset as another format's reader may return it (:func:`hostile_dataset`) written as ``fmt``."""
    ds = mut.hostile_dataset(data)
    with tempfile.TemporaryDirectory() as tmp:
        writes_or_refuses(ds, Path(tmp) / "out", fmt)


def one_polygon_dataset(iid, size):
    """One image ``iid`` of ``size`` (height, width) with one polygon of category ``car``."""
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3]]))
    return Dataset([Category(1, "car")], [Item(iid, "a.jpg", width=size[1], height=size[0], annotations=[ann])])


def refused_before_writing(fmt: str, iid, size, message: str, tmp_path: Path, writes_or_refuses) -> None:
    """An image no file can hold is an InputError matching ``message``, raised before anything is written."""
    from segmill.errors import InputError

    ds = one_polygon_dataset(iid, size)
    with pytest.raises(InputError, match=message):
        segmill.write(ds, tmp_path / "out", fmt)
    assert list(tmp_path.iterdir()) == []
    assert writes_or_refuses(ds, tmp_path / "out", fmt) is None


def unknown_errors_mode_is_a_usage_error(path: Path, fmt: str, errors) -> None:
    """Reading ``path`` with an ``errors`` mode that does not exist is a UsageError naming the modes."""
    from segmill.errors import UsageError

    with pytest.raises(UsageError, match="errors must be one of raise, skip, keep"):
        segmill.read(path, fmt, errors=errors)
