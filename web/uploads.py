"""Attachments of file fields, stored safely outside the web root.

A file is stored under the SHA-256 of its content, in a folder every web worker (and host)
shares; the case keeps the reference ``<sha256>/<cleaned file name>``. The uploaded name never
reaches the file system (the stored file is named by its digest): it is kept, cleaned, only to be
shown and to name the download, so ``检测报告.pdf`` stays ``检测报告.pdf``. Downloads are served as
attachments, never rendered inline.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import IO

from qmsflow.engine.errors import QmsflowError

_REFERENCE = re.compile(r"^(?P<digest>[0-9a-f]{64})/(?P<name>[\w.\-]{1,200})$")
_UNSAFE = re.compile(r"[^\w.\-]+")  # letters of any script, digits, '_', '.', '-' stay
MAX_NAME = 200


class UploadRefused(QmsflowError, ValueError):
    """A file that may not be stored: the message says why and what to do."""


def store(folder: Path, stream: IO[bytes], filename: str, max_bytes: int,
          extensions: frozenset[str]) -> str:
    """Store an uploaded file; its reference for the case, or UploadRefused."""
    name = shown_name(filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in extensions:
        raise UploadRefused(f"'{filename}': files of type '.{extension}' are not accepted "
                            f"(accepted: {', '.join(sorted(extensions))})")
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as temporary:
        for chunk in iter(lambda: stream.read(65536), b""):
            size += len(chunk)
            if size > max_bytes:
                temporary.close()
                Path(temporary.name).unlink()
                raise UploadRefused(f"'{filename}' is larger than "
                                    f"{max_bytes // (1024 * 1024)} MB")
            digest.update(chunk)
            temporary.write(chunk)
    if size == 0:
        Path(temporary.name).unlink()
        raise UploadRefused(f"'{filename}' is empty")
    target = folder / digest.hexdigest()
    if target.exists():
        Path(temporary.name).unlink()  # the same content is already stored
    else:
        Path(temporary.name).replace(target)
    return f"{digest.hexdigest()}/{name}"


def shown_name(filename: str) -> str:
    """The name an upload is shown and downloaded under: its last path part, in NFC, with every
    run of characters other than letters (of any script), digits, ``_``, ``.`` and ``-``
    replaced by ``_``, no leading dots, at most MAX_NAME characters with its extension kept;
    ``file`` when nothing is left."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", filename))[-1]
    name = _UNSAFE.sub("_", base).strip("_").lstrip(".")
    stem, dot, extension = name.rpartition(".")
    if len(name) > MAX_NAME:
        keep = extension[:20] if dot and stem else ""
        name = (name[:MAX_NAME - len(keep) - 1] + "." + keep) if keep else name[:MAX_NAME]
    return name or "file"


def locate(folder: Path, reference: str) -> tuple[Path, str] | None:
    """The stored file and its download name for a reference, or None if there is none."""
    match = _REFERENCE.match(reference)
    if match is None:
        return None
    path = folder / match["digest"]
    return (path, match["name"]) if path.is_file() else None
