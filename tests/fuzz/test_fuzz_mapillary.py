"""Structured fuzzing of the Mapillary Vistas reader (read only: what it returns is written as COCO).

Seeds: ``fixtures/mapillary/basic`` (v1.2 and v2.0: paletted and grey
labels, 16-bit instances, panoptic PNGs + JSON, official ``[x, y]``
polygons, a void label) and ``../shared/corpus/datumaro/mapillary_vistas_dataset``
(Datumaro's flat polygon parts and ``heigth``; skipped, with the reason, when
absent). Each example copies one seed and mutates ONE file: a JSON value
replaced / deleted / duplicated, a PNG re-encoded (mode, size, palette, bit
depth, bomb header), bytes flipped or cut, a file made a directory or a
symbolic link out of the dataset, an odd file name. ``version`` and
``source`` pick the files read.

Property: reading returns a dataset or raises a ``SegmillError`` (one line),
never anything else, and writes nothing; a dataset that was read writes to
COCO completely or is refused with a ``SegmillError``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

REPO = Path(__file__).resolve().parents[2]
SEEDS = {
    "fixtures/mapillary": REPO / "fixtures" / "mapillary" / "basic",
    "datumaro/mapillary_vistas": REPO.parent / "shared" / "corpus" / "datumaro" / "mapillary_vistas_dataset",
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SOURCES = ["auto", "instances", "panoptic", "labels", "polygons"]


def _seed(name: str) -> Path:
    if not SEEDS[name].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name]


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the Mapillary tree at ``root``."""
    f = data.draw(st.sampled_from(mut.files_of(root)), "file")
    kinds = ["bytes", "replace"] + {".png": ["png"] * 3, ".json": ["json"] * 5}.get(f.suffix, [])
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "json":
        return mut.mutate_json(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


def _read_and_write(seed, data, reads_or_refuses, writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(seed, tmp / "ds")
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        source = data.draw(st.sampled_from(SOURCES), "source")
        version = data.draw(st.sampled_from([None, "v1.2", "v2.0"]), "version")
        ds = reads_or_refuses(root, "mapillary", errors=errors, source=source, version=version)
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / "out.json", "coco")


@FUZZ
@given(data=st.data(), seed=st.sampled_from(sorted(SEEDS)))
def test_mutated_seeds_read_or_refuse_and_write_or_refuse(data, seed, reads_or_refuses, writes_or_refuses):
    _read_and_write(_seed(seed), data, reads_or_refuses, writes_or_refuses)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("version", ["v1.2", "v2.0"])
def test_the_unmutated_seeds_read_and_write(source, version, tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    if source == "polygons" and version == "v1.2":
        pytest.skip("v1.2 has no polygons")
    for name, seed in SEEDS.items():
        if not seed.is_dir():
            continue
        ds = reads_or_refuses(seed, "mapillary", source=source, version=version)
        assert ds is not None and ds.items, name
        assert writes_or_refuses(ds, tmp_path / f"{name.replace('/', '_')}_{source}.json", "coco") is not None
