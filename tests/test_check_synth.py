"""Clean synthetic COCO data (segmill.synth) has no error-severity finding."""

from __future__ import annotations

import json

import pytest

from segmill.check import check_path

synth = pytest.importorskip("segmill.synth")


@pytest.mark.parametrize("seed", [0, 7])
def test_clean_synthetic_coco_has_no_errors(tmp_path, seed):
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(synth.coco_dict(150, seed)))
    result = check_path(path, select=["ALL"])
    assert result.annotations > 500
    assert [f.message for f in result.findings if f.severity == "error"] == []


def test_a_planted_duplicate_in_synthetic_data_is_the_only_error(tmp_path):
    d = synth.coco_dict(40, 3)
    dup = dict(d["annotations"][0], id=10**9)
    d["annotations"].append(dup)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(d))
    errors = [f for f in check_path(path).findings if f.severity == "error"]
    assert [(f.code, f.annotation_id) for f in errors] == [("C002", 10**9)]
