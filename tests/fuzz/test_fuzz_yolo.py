"""Structured fuzzing of the YOLO segmentation reader and writer.

Each example copies a bundled YOLO dataset into a fresh folder and mutates
it: tokens of label lines swapped for hostile ones (``inf``, ``nan``,
``1e400``, 20-digit and negative class ids, non-numbers), lines deleted,
duplicated or added, ``data.yaml`` replaced by hostile YAML (not a mapping,
``names`` of the wrong types, aliases, deep nesting, bad syntax, non-UTF-8),
images truncated or replaced by a header declaring a huge size, files
renamed to odd names or replaced by symbolic links out of the dataset. The
property (``tests/fuzz/conftest.py``): the reader returns a dataset or
refuses with a one-line SegmillError in every ``errors`` mode, and a dataset
it returns is written back as YOLO or refused just as cleanly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
pm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pm)

pytestmark = pytest.mark.usefixtures("small_pixel_limit")  # over 2 Mpx, read from the header, is refused
ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted(p for p in (ROOT / "fixtures" / "yolo").iterdir() if p.is_dir())
#: Examples per run; SEGMILL_FUZZ_EXAMPLES=5000 makes a longer campaign.
EXAMPLES = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "120"))

TOKENS = ["0", "1", "3", "-1", "inf", "nan", "-inf", "1e400", "99999999999999999999", "1.5", "0.5", "0.25", "2",
          "-0", "1e-320", "0x1", "\u00b2", "\u0663", "1_0", "NaN", "1.0000001", "+1", "2147483648", "x"]
LINES = ["0 0.1 0.1 0.2 0.2 0.3 0.3", "0 0.5 0.5 0.2 0.2", "inf 0.5 0.5 0.1 0.1", "99999999999999999999 0.1 0.1 0.2 0.2",
         "0 0.1 0.1 0.1 0.1 0.1 0.1", "0", "0 0.1", "\u00b2 0.1 0.1 0.2 0.2 0.3 0.3", "7 0.1 0.1 0.2 0.2 0.3 0.3"]
YAMLS = [
    "names: [[a]]", "names: {inf: a}", "names: {.nan: a}", "names: {1.5: a}", "names: {-1: a}",
    "names: {99999999999999999999: a}", "names: 5", "names: a", "- a\n- b", "a", "", "names: {0: [x]}",
    "names: 2020-99-99", "a: &a [*a]\nnames: [x]", 'names: ["\\ud800"]', "names: {0: a, '0': b}",
    "names: {[1]: a}", "names: [a\n", "\x00", "a:\n\tb", "names: !!python/object:os.system x",
    "names: !!binary aGVsbG8=", "names: {true: a}", "names: {null: a}", "names: [" + "[" * 3000 + "]" * 3000 + "]",
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"  # aliases: 9**6 values
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\nnames: [x]"),
    "names: {0: cat, 1: 2020-01-01, 2: 3.5, 3: null}", "names: [cat, dog]\ntrain: images/train\nnc: 1e400",
    "names: {'  4 ': a}", "names: [" + ", ".join(f"c{i}" for i in 9 * [0]) + "]",
]
NAMES = ["we\nird", "a" * 240, os.fsdecode(b"\xff\xfe"), " ", "-x", "..a", "a.b.c", "\u00fc"]


IMAGES = [pm.raw_png(100_000, 100_000, b"\0"), pm.raw_png(3000, 3000, b"\0"), pm.raw_png(4, 4)[:30],
          b"not an image", b"", pm.raw_png(1, 1), pm.raw_png(0 + 10, 8)]


def _files(root: Path, sub: str) -> list[Path]:
    return sorted(p for p in (root / sub).rglob("*") if p.is_file() and not p.is_symlink())


def _edit_label(f: Path, kind: str, where: int, token: str, line: str) -> None:
    rows = [ln.split() for ln in f.read_text(encoding="utf-8", errors="surrogateescape").splitlines()]
    if kind == "line" or not rows:
        rows.insert(where % (len(rows) + 1), line.split())
    else:
        row = rows[where % len(rows)]
        if kind == "token" and row:
            row[(where // 7) % len(row)] = token
        elif kind == "drop_token" and row:
            del row[(where // 7) % len(row)]
        elif kind == "add_token":
            row.append(token)
        elif kind == "drop_line":
            rows.remove(row)
        else:
            rows.append(list(row))
    f.write_text("".join(" ".join(r) + "\n" for r in rows), encoding="utf-8", errors="surrogateescape")


def _mutate(root: Path, outside: Path, op, where: int, token: str, line: str, yaml_text: str, image: bytes,
            name: str) -> None:
    labels, images = _files(root, "labels"), _files(root, "images")
    if op in ("token", "drop_token", "add_token", "drop_line", "dup_line", "line") and labels:
        _edit_label(labels[where % len(labels)], op, where, token, line)
    elif op == "yaml":
        (root / "data.yaml").write_text(yaml_text, encoding="utf-8", errors="surrogatepass")
    elif op == "yaml_bytes":
        (root / "data.yaml").write_bytes(b"names: [caf\xe9]\n")
    elif op == "label_bytes" and labels:
        labels[where % len(labels)].write_bytes(b"0 0.1 0.1 0.2 0.2 0.3 0.3 \xff\n")
    elif op == "image" and images:
        images[where % len(images)].write_bytes(image)
    elif op == "rename" and labels:
        lbl = labels[where % len(labels)]
        for f in [lbl] + [i for i in images if i.stem == lbl.stem]:
            try:
                f.rename(f.with_name(name + f.suffix))
            except OSError:  # a name this file system refuses
                pass
    elif op in ("symlink_label", "symlink_image"):
        group = labels if op == "symlink_label" else images
        if group:
            victim = group[where % len(group)]
            target = outside / victim.name
            shutil.copyfile(victim, target)
            victim.unlink()
            victim.symlink_to(target)
    elif op == "dir_as_file" and labels:
        victim = labels[where % len(labels)]
        victim.unlink()
        victim.mkdir()
    elif op == "no_yaml":
        (root / "data.yaml").unlink(missing_ok=True)


mutation = st.tuples(
    st.sampled_from(["token"] * 6 + ["drop_token", "add_token", "drop_line", "dup_line", "line", "line", "yaml",
                                      "yaml", "yaml", "yaml_bytes", "label_bytes", "image", "image", "rename",
                                      "symlink_label", "symlink_image", "dir_as_file", "no_yaml"]),
    st.integers(0, 10**6), st.sampled_from(TOKENS), st.sampled_from(LINES), st.sampled_from(YAMLS),
    st.sampled_from(IMAGES), st.sampled_from(NAMES))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=4),
       mode=st.sampled_from(["raise", "skip", "keep"]), raster=st.sampled_from(["coco", "pil"]))
def test_mutated_yolo_is_read_or_refused_and_written_back_or_refused(
        reads_or_refuses, streams_or_refuses, writes_or_refuses, seed, ops, mode, raster):
    with tempfile.TemporaryDirectory() as tmp:
        src, outside = Path(tmp) / "in", Path(tmp) / "outside"
        shutil.copytree(seed, src, copy_function=shutil.copyfile)
        outside.mkdir()
        for op in ops:
            _mutate(src, outside, *op)
        ds = reads_or_refuses(src, "yolo", errors=mode, raster=raster)
        streams_or_refuses(src, "yolo", ds, errors=mode, raster=raster)  # the stream: a second reader
        if ds is not None and mode != "keep":
            writes_or_refuses(ds, Path(tmp) / "out", "yolo")


@pytest.mark.parametrize("token", ["inf", "nan", "1e400", "-1", "99999999999999999999", "\u00b2"])
@pytest.mark.parametrize("mode", ["raise", "skip", "keep"])
def test_hostile_class_ids_are_refused_or_listed_in_every_mode(reads_or_refuses, tmp_path, token, mode):
    src = tmp_path / "in"
    shutil.copytree(ROOT / "fixtures" / "yolo" / "seg", src, copy_function=shutil.copyfile)
    (src / "labels" / "train" / "a.txt").write_text(f"{token} 0.1 0.1 0.5 0.1 0.5 0.5\n")
    ds = reads_or_refuses(src, "yolo", errors=mode)
    assert (ds is None) == (mode == "raise")


def test_yaml_syntax_errors_are_one_line_with_line_and_column(tmp_path):
    import segmill
    from segmill.errors import InputError

    src = tmp_path / "in"
    shutil.copytree(ROOT / "fixtures" / "yolo" / "seg", src, copy_function=shutil.copyfile)
    (src / "data.yaml").write_text("path: .\nnames: [cat,\n  dog\n")
    with pytest.raises(InputError) as exc:
        segmill.read(src, "yolo")
    assert "\n" not in str(exc.value) and "line 4, column 1" in str(exc.value)


def _one_item_dataset(item_id, file_name, height=8, width=10, geometry=None):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    g = geometry if geometry is not None else Polygons([[[1, 1], [5, 1], [5, 5]]])
    return Dataset([Category(0, "cat")], [Item(item_id, file_name, width, height, [Annotation(1, 0, g)])])


@pytest.mark.parametrize("file_name", ["a\x00b.png", "x" * 300 + ".png", "\ud800.png", ""],
                         ids=["nul", "too_long", "surrogate", "empty"])
def test_writer_refuses_file_names_it_cannot_create_before_writing(writes_or_refuses, tmp_path, file_name):
    ds = _one_item_dataset("" if not file_name else 1, file_name)
    assert writes_or_refuses(ds, tmp_path / "out", "yolo") is None
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("file_name", ["../../etc/x.png", "/abs/x.png", "..", "a/b/c.png"])
def test_writer_keeps_output_names_inside_the_folder(writes_or_refuses, tmp_path, file_name):
    report = writes_or_refuses(_one_item_dataset(1, file_name), tmp_path / "out", "yolo")
    assert report is not None
    labels = [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.txt")]
    assert len(labels) == 1 and labels[0].startswith("labels/train/") and labels[0].count("/") == 2


def test_writer_handles_zero_size_images(writes_or_refuses, tmp_path):
    import numpy as np

    from segmill.geometry import Mask

    for n, g in enumerate([None, Mask(np.ones((2, 2), bool), 0, 0)]):
        report = writes_or_refuses(_one_item_dataset(1, "a.png", 0, 0, g), tmp_path / f"out{n}", "yolo")
        assert report is not None and report.annotations == 0 and report.losses
