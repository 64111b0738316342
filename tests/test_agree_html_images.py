"""`segmill agree --html --images DIR`: photos are read only from inside DIR and within the pixel limit."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

import segmill.images
from segmill.cli import main


def _datasets(tmp_path, fixtures_dir, names):
    """Copies of the agree fixtures whose images carry ``names`` as file names."""
    out = []
    for src in ("ann_a.json", "ann_b.json"):
        doc = json.loads((fixtures_dir / "agree" / src).read_text())
        for im, name in zip(doc["images"], names):
            im["file_name"] = name
        p = tmp_path / src
        p.write_text(json.dumps(doc))
        out.append(p)
    return out


def _photo(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((64, 96), 200, np.uint8)).save(path)
    return path


def _agree(tmp_path, a, b, images):
    html = tmp_path / "out.html"
    r = CliRunner().invoke(main, ["agree", str(a), str(b), "--html", str(html), "--images", str(images),
                                  "--lowest", "5", "--quiet"])
    return r, html.read_text() if html.exists() else ""


def test_photos_outside_the_image_root_are_never_opened(tmp_path, fixtures_dir, monkeypatch):
    root = tmp_path / "data" / "images"
    _photo(root / "ok.png")
    secret = _photo(tmp_path / "secret.png")
    (root / "link.png").symlink_to(secret)
    names = ["ok.png", "../../secret.png", str(secret), "link.png", "missing.png"]
    a, b = _datasets(tmp_path, fixtures_dir, names)
    opened = []
    real = segmill.images.open_image
    monkeypatch.setattr(segmill.images, "open_image", lambda p, *x, **k: opened.append(str(p)) or real(p, *x, **k))
    r, page = _agree(tmp_path, a, b, root)
    assert r.exit_code == 0, r.output
    assert opened == [str(root / "ok.png")]
    assert page.count("not shown") == 3  # the two escapes and the absolute path; a missing photo is no note
    assert "Photo of link.png not shown: path" in page and "Photo of ../../secret.png not shown: path" in page


def test_a_decompression_bomb_under_the_image_root_is_skipped_with_a_note(tmp_path, fixtures_dir, bomb_png):
    root = tmp_path / "images"
    root.mkdir()
    bomb_png(root / "bomb.png")
    a, b = _datasets(tmp_path, fixtures_dir, ["bomb.png"])
    r, page = _agree(tmp_path, a, b, root)
    assert r.exit_code == 0, r.output
    assert "Photo of bomb.png not shown" in page and "pixel limit" in page


def test_html_and_report_files_get_the_umasks_permissions(tmp_path, fixtures_dir):
    import os

    a, b = fixtures_dir / "agree" / "ann_a.json", fixtures_dir / "agree" / "ann_b.json"
    old = os.umask(0o022)
    try:
        out = tmp_path / "r.json"
        r = CliRunner().invoke(main, ["agree", str(a), str(b), "--html", str(tmp_path / "p.html"),
                                      "--output-format", "json", "--output", str(out), "--quiet"])
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p.html").stat().st_mode & 0o777 == 0o644
    assert out.stat().st_mode & 0o777 == 0o644
