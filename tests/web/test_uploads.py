"""Attachment names: kept as people wrote them, in any script, and never a path."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qmsflow.web import uploads


@pytest.mark.parametrize(("uploaded", "shown"), [
    ("检测报告.pdf", "检测报告.pdf"),
    ("客户来函 2026-03.PDF", "客户来函_2026-03.PDF"),
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("C:\\Users\\王芳\\照片.jpg", "照片.jpg"),
    (".hidden.pdf", "hidden.pdf"),
    ("報告\u202etxt.exe.pdf", "報告_txt.exe.pdf"),  # the right-to-left override cannot hide .exe
    ("", "file"),
])
def test_an_uploaded_name_is_kept_in_any_script_without_its_path_or_controls(
        uploaded: str, shown: str) -> None:
    assert uploads.shown_name(uploaded) == shown


def test_a_very_long_name_is_shortened_keeping_its_extension() -> None:
    shown = uploads.shown_name("报" * 300 + ".pdf")
    assert len(shown) == uploads.MAX_NAME and shown.endswith(".pdf")


def test_a_chinese_named_file_is_stored_by_its_digest_and_found_under_its_name(
        tmp_path: Path) -> None:
    reference = uploads.store(tmp_path, io.BytesIO(b"%PDF-1.4"), "维修报告.pdf", 1024,
                              frozenset({"pdf"}))
    digest, name = reference.split("/")
    assert name == "维修报告.pdf"
    assert [path.name for path in tmp_path.iterdir()] == [digest]  # no uploaded name on disk
    assert uploads.locate(tmp_path, reference) == (tmp_path / digest, "维修报告.pdf")
