"""Kernels run as their Python source (before numba loads) give what the compiled kernels give.

A command on a small dataset runs segmill's numba kernels as plain Python
(``segmill._jit``: numba's start-up is not worth paying). The two ways must
not differ: the oracle battery (pycocotools) runs in a process that never
loads numba, and CLI commands run in both modes with their outputs compared
byte for byte.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"

# Runs in a fresh process under SEGMILL_JIT=interpret; asserts numba was never imported.
_BATTERY = r"""
import sys
import numpy as np
import pycocotools.mask as M
from segmill import rle

rng = np.random.default_rng(7)
done = 0
for trial in range(40):
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    m = np.asfortranarray(rng.random((h, w)) < rng.random())
    ref = M.encode(m.astype(np.uint8))
    r = rle.encode(m)
    assert r.to_coco()["counts"].encode() == ref["counts"], trial
    assert np.array_equal(r.decode(), M.decode(ref).astype(bool)), trial
    assert r.area == int(M.area(ref)), trial
    assert list(r.bbox) == [float(v) for v in M.toBbox(ref)], trial
    back = rle.from_coco({"size": [h, w], "counts": ref["counts"].decode()})
    assert back.to_coco()["counts"].encode() == ref["counts"], trial
    k = int(rng.integers(3, 12))
    poly = (rng.random((k, 2)) * [w + 4, h + 4] - 2).ravel().tolist()
    pr = M.frPyObjects([poly], h, w)[0]
    mine = rle.from_polygons([poly], h, w)
    assert mine.to_coco()["counts"].encode() == pr["counts"], trial
    m2 = np.asfortranarray(rng.random((h, w)) < 0.5)
    r2, ref2 = rle.encode(m2), M.encode(m2.astype(np.uint8))
    assert np.allclose(rle.iou([r], [r2]), M.iou([ref], [ref2], [0]), rtol=0, atol=0), trial
    assert rle.merge([r, r2]).to_coco()["counts"].encode() == M.merge([ref, ref2])["counts"], trial
    done += 1
assert "numba" not in sys.modules, "numba was loaded"
print("battery", done)
"""


def _run(args, mode, cwd, check_rc=None):
    env = {**os.environ, "SEGMILL_JIT": mode}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, (mode, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def test_oracle_battery_without_numba(tmp_path):
    proc = _run([sys.executable, "-c", _BATTERY], "interpret", tmp_path, check_rc=0)
    assert proc.stdout.split() == ["battery", "40"]


@pytest.mark.parametrize("args", [
    ["check", str(FIX / "defects" / "annotations.json"), "--output-format", "json"],
    ["check", str(FIX / "coco" / "annotations.json"), "--output-format", "json"],
    ["info", str(FIX / "coco" / "annotations.json")],
])
def test_cli_output_is_the_same_both_ways(tmp_path, args):
    seg = [sys.executable, "-m", "segmill"]
    compiled = _run(seg + args, "compile", tmp_path)
    interpreted = _run(seg + args, "interpret", tmp_path)
    assert compiled.returncode in (0, 1), compiled.stderr
    assert (interpreted.returncode, interpreted.stdout) == (compiled.returncode, compiled.stdout)


@pytest.mark.parametrize("src, to", [
    ("coco/annotations.json", "voc"),
    ("coco/annotations.json", "yolo"),
    ("coco/annotations.json", "masks"),
    ("labelme/basic", "coco"),
    ("cityscapes/basic", "coco"),
    ("voc", "coco"),
    ("cvat/basic", "coco"),
    ("coco/annotations.json", "cvat"),
    ("coco/annotations.json", "labelme"),
])
def test_converted_files_are_the_same_both_ways(tmp_path, src, to):
    seg = [sys.executable, "-m", "segmill", "convert", str(FIX / src)]
    outs = {}
    for mode in ("compile", "interpret"):
        out = tmp_path / mode / ("out.json" if to == "coco" else "out")
        out.parent.mkdir()
        _run(seg + [str(out), "--to", to], mode, tmp_path, check_rc=0)
        outs[mode] = out
    a, b = outs["compile"], outs["interpret"]
    if a.is_file():
        assert a.read_bytes() == b.read_bytes()
        return
    cmp = filecmp.dircmp(a, b)
    pending = [cmp]
    while pending:
        c = pending.pop()
        assert not c.left_only and not c.right_only, (c.left_only, c.right_only)
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        assert not mismatch and not errors, (mismatch, errors)
        pending.extend(c.subdirs.values())
