"""Where the admin screens find definition sets: folders on this server, or an uploaded zip.

Only folders discovered here can be picked (a form never names a path), and an uploaded zip is
unpacked under strict rules into a temporary folder that is removed after the request: no
absolute names, no ``..``, no links, a bounded number of files and of bytes.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.sources import MANIFEST

from ..i18n import gettext as _

# An uploaded set is YAML text: these bounds are far above any real set and far below what
# would hurt the server (a zip bomb expands by orders of magnitude).
ZIP_MAX_BYTES = 5 * 1024 * 1024
UNPACKED_MAX_BYTES = 20 * 1024 * 1024
MAX_FILES = 500
# How deep below a search folder a set may sit (``examples/<client>/set.yaml`` is two).
SEARCH_DEPTH = 2

# The bundled example sets travel with the source tree (web/admin/ is two levels below it).
BUNDLED_EXAMPLES = Path(__file__).resolve().parents[2] / "definitions" / "examples"


class ZipRefused(QmsflowError, ValueError):
    """An uploaded zip that is not unpacked; the message says why, for the user."""


@dataclass(frozen=True)
class SetFolder:
    """A definition set on this server: the key a form posts and the folder it stands for."""

    key: str
    path: Path


def available(served: Path) -> list[SetFolder]:
    """Definition-set folders near the served one: beside it, below the folder holding it (up
    to two levels, e.g. ``examples/<client>``), and the bundled examples."""
    served = served.resolve()
    if served.is_file():
        served = served.parent
    bases = [served.parent]
    if BUNDLED_EXAMPLES.is_dir():
        bases.append(BUNDLED_EXAMPLES.parent)
    found: dict[Path, SetFolder] = {}
    for base in bases:
        for manifest in _manifests(base, SEARCH_DEPTH):
            folder = manifest.parent.resolve()
            if folder not in found:
                key = folder.relative_to(base).as_posix()
                if any(item.key == key for item in found.values()):
                    key = folder.as_posix()  # two bases with the same layout: keep both apart
                found[folder] = SetFolder(key, folder)
    return sorted(found.values(), key=lambda item: (item.path != served, item.key))


def _manifests(base: Path, depth: int) -> Iterator[Path]:
    if depth == 0 or not base.is_dir():
        return
    for child in sorted(base.iterdir()):
        if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
            if (child / MANIFEST).is_file():
                yield child / MANIFEST
            yield from _manifests(child, depth - 1)


def by_key(served: Path, key: str) -> Path | None:
    """The folder of a discovered set, or None when ``key`` names none."""
    return next((item.path for item in available(served) if item.key == key), None)


@contextmanager
def unpacked(upload: IO[bytes], filename: str) -> Iterator[tuple[Path, Path]]:
    """The set folder of an uploaded zip and the temporary folder it was unpacked into, for
    the block's duration.

    Raises :class:`ZipRefused` when the file is not a zip of one definition set within the
    limits.
    """
    folder = Path(tempfile.mkdtemp(prefix="qmsflow-upload-"))
    try:
        unpack(upload, filename, folder)
        yield set_root(folder), folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def unpack(upload: IO[bytes], filename: str, target: Path) -> None:
    """Unpack the zip ``upload`` into ``target`` after checking every entry."""
    if not filename.lower().endswith(".zip"):
        raise ZipRefused(_("Upload a .zip file of a definition set folder."))
    data = upload.read(ZIP_MAX_BYTES + 1)
    if len(data) > ZIP_MAX_BYTES:
        raise ZipRefused(_("The zip is larger than %(limit)s MB.",
                           limit=ZIP_MAX_BYTES // (1024 * 1024)))
    archive_file = target / ".upload.zip"
    archive_file.write_bytes(data)
    try:
        archive = zipfile.ZipFile(archive_file)
    except zipfile.BadZipFile:
        raise ZipRefused(_("The file is not a valid zip archive.")) from None
    with archive:
        entries = archive.infolist()
        files = [entry for entry in entries if not entry.is_dir()]
        if len(files) > MAX_FILES:
            raise ZipRefused(_("The zip holds more than %(count)s files.", count=MAX_FILES))
        if sum(entry.file_size for entry in files) > UNPACKED_MAX_BYTES:
            raise ZipRefused(_("The zip unpacks to more than %(limit)s MB.",
                               limit=UNPACKED_MAX_BYTES // (1024 * 1024)))
        unpacked_bytes = 0
        for entry in entries:
            name = _safe_name(entry)
            destination = target.joinpath(*name.parts)
            if entry.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            # Count what is really written: the sizes a zip declares can lie.
            with archive.open(entry) as source, destination.open("wb") as sink:
                while chunk := source.read(64 * 1024):
                    unpacked_bytes += len(chunk)
                    if unpacked_bytes > UNPACKED_MAX_BYTES:
                        raise ZipRefused(_("The zip unpacks to more than %(limit)s MB.",
                                           limit=UNPACKED_MAX_BYTES // (1024 * 1024)))
                    sink.write(chunk)
    archive_file.unlink()


def _safe_name(entry: zipfile.ZipInfo) -> PurePosixPath:
    """The entry's relative name; refuses absolute names, '..', drive letters and links."""
    raw = entry.filename.replace("\\", "/")
    name = PurePosixPath(raw)
    mode = entry.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ZipRefused(_("The zip contains a link (%(name)s); links are not accepted.",
                           name=raw))
    if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]) \
            or not name.parts:
        raise ZipRefused(_("The zip contains an unsafe file name (%(name)s).", name=raw))
    return name


def set_root(folder: Path) -> Path:
    """The folder holding ``set.yaml``: the zip's top level or its one top folder."""
    if (folder / MANIFEST).is_file():
        return folder
    children = [child for child in folder.iterdir() if not child.name.startswith((".", "__"))]
    if len(children) == 1 and children[0].is_dir() and (children[0] / MANIFEST).is_file():
        return children[0]
    raise ZipRefused(_("The zip has no %(manifest)s at its top level or in its one top "
                       "folder: zip the folder of the definition set.", manifest=MANIFEST))
