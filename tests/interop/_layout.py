"""A COCO source laid out as COCO ships it, with real images, for the interop tests.

``annotations/instances_val2017.json`` beside ``val2017/`` holding random
JPEG/PNG images of the sizes given: the layout a converter must find images in.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def coco_layout(root: Path, categories: list, images: list, annotation) -> tuple[Path, dict]:
    """Write the layout under ``root``; ``(the JSON's path, its dict)``.

    ``images`` holds ``(file name, width, height, [(category id, segmentation spec), ...])``;
    ``annotation(k, category id, spec, height, width)`` makes the record of the ``k``-th
    annotation (without ``image_id``, which is added here).
    """
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    coco = {"images": [], "annotations": [], "categories": categories}
    for n, (name, w, h, anns) in enumerate(images, 1):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "val2017" / name)
        coco["images"].append({"id": n, "file_name": name, "width": w, "height": h})
        for cat, spec in anns:
            rec = annotation(len(coco["annotations"]), cat, spec, h, w)
            coco["annotations"].append({**rec, "image_id": n})
    src = root / "annotations" / "instances_val2017.json"
    src.write_text(json.dumps(coco))
    return src, coco
