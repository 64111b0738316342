"""COCO instances: its rows of the conversion matrix (the reader and writer are tested by subject in
tests/test_coco_read*.py, tests/test_coco_write.py and tests/test_coco_roundtrip.py)."""


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: coco: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "coco"): set(),
}
