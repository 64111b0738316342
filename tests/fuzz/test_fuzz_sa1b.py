"""Structured fuzzing of the SA-1B reader and writer.

Seeds: ``fixtures/sa1b`` (a folder of per-image JSON and JPEGs),
``fixtures/sa1b_tar`` (the same pairs in one ``sa_000000.tar`` shard, members
named ``./sa_N.*``) and ``../shared/corpus/datumaro/segment_anything_dataset``
(skipped, with the reason, when absent). Each example copies one seed and
mutates ONE file: a JSON document (values, types, deep nesting), bytes flipped
or cut (a tar shard is one file: its bytes too), a file made a directory or a
symbolic link out of the dataset, an odd file name, or, in a tar shard, one
member: renamed (``../x.json``, an absolute name, a backslash, empty), made a
symbolic link, hard link or FIFO, dropped, duplicated, its JSON mutated, or
the shard cut at a member boundary.

Property: that of ``_folder_fuzz.round_trip``; what is read is written back as
SA-1B (a folder or tar shards, drawn).
"""

from __future__ import annotations

import importlib.util
import io
import tarfile
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_folder_fuzz", Path(__file__).with_name("_folder_fuzz.py"))
ff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ff)

ODD_MEMBER_NAMES = ["../x.json", "/abs/sa_1.json", "a\\b.json", "", ".", "x" * 300 + ".json", "sub/../../y.json",
                    "sa_1.jpg", "C:/sa_1.json"]


def _members(path: Path) -> list:
    with tarfile.open(path) as tf:
        return [(m, tf.extractfile(m).read() if m.isreg() else None) for m in tf.getmembers()]


def _pack(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.GNU_FORMAT) as tf:
        for m, data in members:
            if data is None or not m.isreg():
                m.size = 0
                tf.addfile(m)
            else:
                m.size = len(data)
                tf.addfile(m, io.BytesIO(data))
    return buf.getvalue()


def _json_inside(data, blob: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "m.json"
        f.write_bytes(blob)
        ff.mut.mutate_json(f, data)
        return f.read_bytes()


def mutate_tar(path: Path, data) -> str:
    """One member of a tar shard changed (see the module docs); its description."""
    members = _members(path)
    k = data.draw(st.integers(0, len(members) - 1), "member")
    m, blob = members[k]
    op = data.draw(st.sampled_from(["rename", "symlink", "hardlink", "fifo", "drop", "duplicate", "json", "cut"]),
                   "tar op")
    if op == "rename":
        m.name = data.draw(st.sampled_from(ODD_MEMBER_NAMES), "name")
    elif op in ("symlink", "hardlink", "fifo"):
        m.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[op]
        m.linkname = data.draw(st.sampled_from(["/etc/passwd", "../x", "sa_1.jpg", "./sa_2.json"]), "link")
    elif op == "drop":
        del members[k]
    elif op == "duplicate":
        members.insert(k, (m, blob))
    elif op == "json" and blob is not None and m.name.endswith(".json"):
        members[k] = (m, _json_inside(data, blob))
    raw = _pack(members)
    if op == "cut":
        raw = raw[:data.draw(st.integers(0, len(raw) // 512), "blocks") * 512]
    path.write_bytes(raw)
    return f"tar member {k} ({m.name[:40]!r}): {op}"


SPEC = ff.FolderFuzz(
    "sa1b",
    seeds={"fixtures/sa1b": ff.REPO / "fixtures" / "sa1b", "fixtures/sa1b_tar": ff.REPO / "fixtures" / "sa1b_tar",
           "datumaro/segment_anything": ff.DATUMARO / "segment_anything_dataset"},
    kinds=ff.by_suffix({".json": ["json"] * 4, ".tar": ["tar"] * 6}),
    write_choices={"shard_size": [0, 0, 1, 2], "copy_images": [True, False]},
    mutators={"tar": mutate_tar},
)


@ff.FUZZ
@given(data=st.data())
def test_mutated_folder_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    ff.round_trip(SPEC, "fixtures/sa1b", data, reads_or_refuses, writes_or_refuses)


@ff.FUZZ
@given(data=st.data())
def test_mutated_tar_shard_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses, writes_or_refuses):
    ff.round_trip(SPEC, "fixtures/sa1b_tar", data, reads_or_refuses, writes_or_refuses)


@settings(ff.FUZZ, max_examples=ff.LONG or 30)
@given(data=st.data())
def test_mutated_datumaro_sample_reads_or_refuses_and_writes_or_refuses(data, reads_or_refuses,
                                                                        writes_or_refuses):
    ff.round_trip(SPEC, "datumaro/segment_anything", data, reads_or_refuses, writes_or_refuses)


def test_the_unmutated_seeds_read_and_write_back(tmp_path, reads_or_refuses, writes_or_refuses):
    ff.seeds_get_through(SPEC, tmp_path, reads_or_refuses, writes_or_refuses, errors="skip")


@settings(ff.FUZZ, max_examples=ff.LONG or 50)
@given(data=st.data())
def test_datasets_from_other_formats_write_or_refuse(data, writes_or_refuses):
    ff.hostile_dataset_writes_or_refuses("sa1b", data, writes_or_refuses)
