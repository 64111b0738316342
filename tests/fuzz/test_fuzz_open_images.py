"""Structured fuzzing of the Open Images segmentation reader (read only: what it returns is written as COCO).

Seeds: ``fixtures/open_images/basic`` (masks at half, double and odd
resolutions, ``images.meta``, an undescribed class) and
``../shared/corpus/datumaro/open_images_dataset/v6`` (skipped, with the
reason, when absent). Each example copies one seed and mutates ONE file: a
CSV or ``images.meta`` line edited (odd numbers and names, non-UTF-8 bytes,
duplicates, nothing), a mask PNG re-encoded (mode, size, palette, bit depth,
bomb header), bytes flipped or cut, a file made a directory or a symbolic
link out of the dataset, an odd file name.

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
    "fixtures/open_images": REPO / "fixtures" / "open_images" / "basic",
    "datumaro/open_images/v6": REPO.parent / "shared" / "corpus" / "datumaro" / "open_images_dataset" / "v6",
}
#: SEGMILL_FUZZ_EXAMPLES=5000 runs a long, random (not derandomized) session instead of the default one.
_LONG = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 80, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _seed(name: str) -> Path:
    if not SEEDS[name].is_dir():
        pytest.skip(f"seed {name} not found at {SEEDS[name]} (clone the project beside shared/ to fuzz from it)")
    return SEEDS[name]


def mutate(root: Path, data, outside: Path) -> str:
    """One mutation of one file of the Open Images tree at ``root`` (CSVs most often)."""
    files = mut.files_of(root)
    f = data.draw(st.sampled_from([p for p in files for _ in range(4 if p.suffix == ".csv" else 1)]), "file")
    kinds = ["bytes", "replace"] + {".png": ["png"] * 3, ".csv": ["lines"] * 5, ".meta": ["lines"] * 3,
                                    ".json": ["json"] * 2}.get(f.suffix, [])
    kind = data.draw(st.sampled_from(kinds), "mutation")
    if kind == "png":
        return mut.mutate_png(f, data)
    if kind == "lines":
        return mut.mutate_lines(f, data)
    if kind == "json":
        return mut.mutate_json(f, data)
    if kind == "replace":
        return mut.replace_path(f, data, outside)
    return mut.mutate_bytes(f, data)


@FUZZ
@given(data=st.data(), seed=st.sampled_from(sorted(SEEDS)))
def test_mutated_seeds_read_or_refuse_and_write_or_refuse(data, seed, reads_or_refuses, writes_or_refuses):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = mut.copy_seed(_seed(seed), tmp / "ds")
        note(mutate(root, data, mut.outside_png(tmp)))
        errors = data.draw(st.sampled_from(["raise", "skip", "keep"]), "errors")
        ds = reads_or_refuses(root, "open_images", errors=errors)
        if ds is not None and errors != "keep":
            writes_or_refuses(ds, tmp / "out.json", "coco")


def test_the_unmutated_seeds_read_and_write(tmp_path, reads_or_refuses, writes_or_refuses):
    # the property is only worth something if the seeds themselves get through
    for name, seed in SEEDS.items():
        if not seed.is_dir():
            continue
        ds = reads_or_refuses(seed, "open_images")
        assert ds is not None and ds.items, name
        assert writes_or_refuses(ds, tmp_path / f"{name.replace('/', '_')}.json", "coco") is not None
