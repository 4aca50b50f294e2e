"""Attachments of file fields, stored safely outside the web root.

A file is stored under the SHA-256 of its content, in a folder every web worker (and host)
shares; the case keeps the reference ``<sha256>/<cleaned file name>``. Nothing of the
uploaded name reaches the file system but the cleaned name in the reference, and downloads are
served as attachments, never rendered inline.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import IO

from werkzeug.utils import secure_filename

from qmsflow.engine.errors import QmsflowError

_REFERENCE = re.compile(r"^(?P<digest>[0-9a-f]{64})/(?P<name>[\w.\-]{1,200})$")


class UploadRefused(QmsflowError, ValueError):
    """A file that may not be stored: the message says why and what to do."""


def store(folder: Path, stream: IO[bytes], filename: str, max_bytes: int,
          extensions: frozenset[str]) -> str:
    """Store an uploaded file; its reference for the case, or UploadRefused."""
    name = secure_filename(filename) or "file"
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


def locate(folder: Path, reference: str) -> tuple[Path, str] | None:
    """The stored file and its download name for a reference, or None if there is none."""
    match = _REFERENCE.match(reference)
    if match is None:
        return None
    path = folder / match["digest"]
    return (path, match["name"]) if path.is_file() else None
