"""Atomic writes: all or nothing, with ordinary permissions."""

from __future__ import annotations

import os

import pytest

from tagger.files import OutputError, atomic_write


def test_a_failed_write_leaves_the_old_file_and_no_litter(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as out:
            out.write("half a rec")
            raise RuntimeError("crash")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_a_finished_write_replaces_the_file_readable_by_others(tmp_path):
    path = tmp_path / "deep" / "out.bin"
    with atomic_write(path, "wb") as out:
        out.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert path.stat().st_mode & 0o044 == 0o044


def test_an_output_the_file_system_refuses_is_an_output_error_naming_it(tmp_path):
    (tmp_path / "file").write_text("a file")
    with pytest.raises(
        OutputError, match=f"cannot write {tmp_path}/file/out.tsv: {tmp_path}/file is a file, not a folder"
    ):
        with atomic_write(tmp_path / "file" / "out.tsv") as out:
            out.write("never")
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputError, match="cannot write .*folder: Is a directory"):  # replacing a folder by a file
        with atomic_write(tmp_path / "folder") as out:
            out.write("x")
    assert sorted(os.listdir(tmp_path)) == ["file", "folder"] and not os.listdir(tmp_path / "folder")
    with pytest.raises(OSError, match="elsewhere") as error:  # other files' errors pass through as they are
        with atomic_write(tmp_path / "out.tsv") as out:
            raise FileNotFoundError(2, "elsewhere", str(tmp_path / "input.tsv"))
    assert not isinstance(error.value, OutputError)
