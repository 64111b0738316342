"""The shared boundary helpers: validators, JSON loading, confinement, output names."""

from __future__ import annotations

import math

import pytest

from segmill.errors import InputError, LimitError, UsageError
from segmill.jsonio import load, parse
from segmill.paths import confined_glob, output_name, resolve_inside
from segmill.validate import ErrorPolicy, brief, finite, hashable_id, image_size, int_in, string

HOSTILE = [None, True, [1], {"a": 1}, "7", math.nan, math.inf, -math.inf, 10**400, 1e308, [[[[[[[[[]]]]]]]]]]


@pytest.mark.parametrize("value", HOSTILE)
def test_validators_raise_only_input_errors_with_one_line(value):
    for check in (lambda v: finite(v, "x", "f", "r", lo=0, hi=10), lambda v: int_in(v, "x", "f", "r", lo=0, hi=10),
                  lambda v: string(v, "x", "f", "r", max_len=0), lambda v: hashable_id(v, "x", "f", "r"),
                  lambda v: image_size(v, v, "f", "r")):
        try:
            check(value)
        except InputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("f: r: ")


def test_validators_return_checked_values():
    assert finite(3, "x") == 3.0 and int_in(3.0, "x", integral_floats=True) == 3
    assert hashable_id("a", "id") == "a" and image_size(2, 3) == (2, 3)
    with pytest.raises(LimitError):
        image_size(100_000, 100_000)


def test_brief_is_bounded_in_depth_and_length():
    deep = []
    for _ in range(5000):
        deep = [deep]
    assert len(brief(deep)) < 100 and len(brief("x" * 10_000)) < 100 and brief("a\nb") == "'a\\nb'"


def test_error_policy_modes():
    with pytest.raises(UsageError):
        ErrorPolicy.of("bogus")
    skip = ErrorPolicy.of("skip")
    skip.drop(InputError("bad", "f.json", "record 1"))
    assert skip.skipped == [{"path": "f.json", "record": "record 1", "reason": "bad"}]
    assert ErrorPolicy.of("keep").keep_or_drop(InputError("bad")) is True
    with pytest.raises(InputError):
        ErrorPolicy.of("raise").drop(InputError("bad"))


@pytest.mark.parametrize("data, message", [
    (b'{"a": ' + b"1" * 5000 + b"}", "invalid JSON"),
    (b"[" * 65 + b"]" * 65, "nested deeper than 64"),
    (b'{"a": 1', "line 1, column 8"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_json_problems_are_one_line_input_errors(data, message):
    with pytest.raises(InputError, match=message):
        parse(data, "x.json")


def test_json_nan_is_accepted_and_flagged(tmp_path):
    (tmp_path / "a.json").write_text('{"v": NaN}')
    value, nonfinite = load(tmp_path / "a.json")
    assert math.isnan(value["v"]) and nonfinite
    with pytest.raises(InputError, match="is a directory"):
        load(tmp_path)


@pytest.mark.parametrize("name, message", [("../x", "outside"), ("/etc/passwd", "absolute"), ("C:/x", "absolute"),
                                           ("a\0b", "NUL"), ("\ud800", "cannot be encoded"), (7, "string")])
def test_resolve_inside_refuses(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        resolve_inside(tmp_path, name, "f.json", "image 1")


def test_symlinks_out_of_the_root_are_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    (root / "ok.txt").write_text("o")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(InputError, match="outside"):
        resolve_inside(root, "link.txt")
    with pytest.raises(InputError, match="symbolic link points outside"):
        confined_glob(root, "*.txt")
    (root / "link.txt").unlink()
    (root / "dir.txt").mkdir()
    assert [p.name for p in confined_glob(root, "*.txt")] == ["ok.txt"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\0b", "\ud800", "x" * 252, None])
def test_output_names_that_cannot_be_one_file_are_refused(name):
    with pytest.raises(InputError):
        output_name(name, "item id", suffix=".json")


def test_output_name_accepts_ordinary_names():
    assert output_name("img 01.v2", "item id", suffix=".json") == "img 01.v2"


def test_a_float_beyond_the_double_range_is_left_to_the_validators():
    value, _ = parse(b"[1e999, 1.5]")
    assert value == [math.inf, 1.5]
    with pytest.raises(InputError, match="finite"):
        finite(value[0], "x", "f.json", "r")
