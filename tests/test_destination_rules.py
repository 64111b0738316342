"""The rules of ``--force``: the source and anything holding it are never touched (docs/cli.md)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError


def _run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def _tree(root):
    return sorted((p.relative_to(root).as_posix(), p.read_bytes() if p.is_file() else None)
                  for p in root.rglob("*"))


@pytest.fixture
def ds(tmp_path, fixtures_dir):
    """A folder holding a COCO file in a subfolder and an unrelated file."""
    root = tmp_path / "ds"
    (root / "sub").mkdir(parents=True)
    shutil.copy(fixtures_dir / "coco" / "annotations.json", root / "sub" / "a.json")
    (root / "notes.txt").write_text("keep me")
    return root


def _refused(r, root, before, words):
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert words in r.stderr
    assert _tree(root) == before


def test_force_onto_a_folder_holding_the_source_is_refused(ds):
    before = _tree(ds)
    r = _run("convert", ds / "sub" / "a.json", ds, "--to", "yolo", "--force")
    _refused(r, ds, before, "contains the source")


def test_force_onto_the_source_file_itself_is_refused(ds):
    before = _tree(ds)
    _refused(_run("convert", ds / "sub" / "a.json", ds / "sub" / "a.json", "--force"), ds, before, "is the source")


def test_destination_inside_a_source_folder_is_refused(tmp_path, fixtures_dir):
    src = tmp_path / "voc"
    shutil.copytree(fixtures_dir / "voc", src)
    before = _tree(src)
    _refused(_run("convert", src, src / "out.json", "--to", "coco"), src, before, "inside the source")


def test_force_onto_an_unrelated_non_empty_folder_is_refused(ds, tmp_path):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not really a jpeg")
    before = _tree(other)
    _refused(_run("convert", ds / "sub" / "a.json", other, "--to", "yolo", "--force"), other, before,
             "is not a yolo dataset")


def test_force_never_replaces_a_folder_by_a_file(ds, tmp_path):
    other = tmp_path / "out.json"
    other.mkdir()
    (other / "x").write_text("x")
    before = _tree(other)
    _refused(_run("convert", ds / "sub" / "a.json", other, "--force"), other, before, "never replaces a folder by a file")


def test_force_never_replaces_a_file_by_a_folder(ds, tmp_path):
    target = tmp_path / "out"
    target.write_text("a file")
    r = _run("convert", ds / "sub" / "a.json", target, "--to", "voc", "--force")
    assert r.exit_code == 2 and "never replaces a file by a folder" in r.stderr
    assert target.read_text() == "a file"


def test_force_onto_an_unrelated_file_is_refused(ds, tmp_path):
    target = tmp_path / "README.md"
    target.write_text("# my project")
    r = _run("convert", ds / "sub" / "a.json", target, "--force")
    assert r.exit_code == 2 and "is not a coco dataset" in r.stderr
    assert target.read_text() == "# my project"


def test_force_replaces_an_empty_folder(ds, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    r = _run("convert", ds / "sub" / "a.json", target, "--to", "voc", "--force")
    assert r.exit_code == 0, r.output
    assert (target / "Annotations").is_dir()


def test_force_replaces_a_previous_output_of_the_same_format(ds, tmp_path):
    target = tmp_path / "voc_out"
    assert _run("convert", ds / "sub" / "a.json", target, "--to", "voc").exit_code == 0
    (target / "stale.txt").write_text("from an older run")
    r = _run("convert", ds / "sub" / "a.json", target, "--to", "voc", "--force")
    assert r.exit_code == 0, r.output
    assert not (target / "stale.txt").exists()
    out = tmp_path / "o.json"
    assert _run("convert", ds / "sub" / "a.json", out).exit_code == 0
    assert _run("convert", ds / "sub" / "a.json", out, "--force").exit_code == 0


def test_without_force_an_existing_destination_is_refused(ds, tmp_path):
    target = tmp_path / "o.json"
    target.write_text("{}")
    r = _run("convert", ds / "sub" / "a.json", target)
    assert r.exit_code == 2 and "already exists" in r.stderr and target.read_text() == "{}"


def test_library_write_protects_the_source_of_the_dataset(ds):
    data = segmill.read(ds / "sub" / "a.json")
    before = _tree(ds)
    with pytest.raises(InputError, match="contains the source"):
        segmill.write(data, ds, "yolo", force=True)
    with pytest.raises(InputError, match="contains the source"):
        segmill.write(data, ds / "sub", "voc", force=True)
    assert _tree(ds) == before


def test_library_write_protects_explicit_sources(ds, tmp_path):
    data = segmill.read(ds / "sub" / "a.json")
    data.meta.pop("source_path")
    with pytest.raises(InputError, match="contains the source"):
        segmill.write(data, tmp_path, "voc", force=True, sources=[ds / "notes.txt"])


def test_consensus_out_onto_an_annotator_file_is_refused(fixtures_dir, tmp_path):
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    shutil.copy(fixtures_dir / "agree" / "ann_a.json", a)
    shutil.copy(fixtures_dir / "agree" / "ann_b.json", b)
    before = a.read_bytes()
    r = _run("agree", a, b, "--consensus", "majority", "--consensus-out", a, "--to", "coco", "--force", "--quiet")
    assert r.exit_code == 2 and "is the source" in r.stderr
    assert a.read_bytes() == before
    r = _run("agree", a, b, "--consensus", "majority", "--consensus-out", tmp_path, "--to", "voc", "--force",
             "--quiet")
    assert r.exit_code == 2 and "contains the source" in r.stderr
    assert a.read_bytes() == before


def test_split_instances_force_onto_its_source_parent_is_refused(fixtures_dir, tmp_path):
    src = tmp_path / "m" / "masks"
    shutil.copytree(fixtures_dir / "masks", src)
    before = _tree(tmp_path / "m")
    r = _run("split-instances", src, tmp_path / "m", "--to", "voc", "--force")
    _refused(r, tmp_path / "m", before, "contains the source")


def test_a_destination_the_file_system_refuses_is_an_output_error_and_exit_2(fixtures_dir, tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main
    from segmill.errors import OutputError

    ds = segmill.read(fixtures_dir / "coco" / "annotations.json", "coco")
    dst = tmp_path / ("x" * 300 + ".json")  # over NAME_MAX: ENAMETOOLONG, the place's fault, not segmill's
    with pytest.raises(OutputError, match="cannot write"):
        segmill.write(ds, dst, "coco")
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "coco" / "annotations.json"), str(dst), "-q"])
    assert res.exit_code == 2, res.output
    assert "internal error" not in res.output
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing left behind


@pytest.mark.parametrize("fmt", ["yolo", "labelme", "cityscapes", "kitti", "camvid"])
def test_a_writer_refusing_the_data_names_the_destination_not_its_staging_folder(tmp_path, fmt):
    from segmill.geometry import Box
    from segmill.model import Annotation, Category, Dataset, Item

    ds = Dataset([Category(1, "a")], [Item(100, "a.png", 10, 10, [Annotation(1, 5, Box(1, 1, 2, 2))])])
    with pytest.raises(InputError) as got:
        segmill.write(ds, tmp_path / "out", fmt)
    assert got.value.path == str(tmp_path / "out") and "segmill-tmp" not in str(got.value)
    assert [p.name for p in tmp_path.iterdir()] == []
