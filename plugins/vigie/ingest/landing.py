"""The landing zone: list what arrived, archive what was processed, quarantine what was refused.

Paths go through fsspec so the same code reads a local folder, ``s3://`` or ``sftp://``.
Nothing is ever deleted: a processed file moves to ``archive/``, a refused one to
``quarantine/`` with a machine-readable ``.reason.json`` beside it.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime

import fsspec

IGNORED_PREFIXES = (".", "~$", "_")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".reason.json")


@dataclass(frozen=True)
class LandedFile:
    """A file as found in the landing zone."""

    url: str
    name: str
    relative_path: str
    modified_at: datetime
    size: int


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def _mtime(info: dict) -> datetime:
    raw = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or 0
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(raw), tz=UTC)


def list_files(landing_url: str, source: str) -> list[LandedFile]:
    """Files under ``<landing>/<source>/`` (sub-folders included), oldest first.

    Hidden files, Office lock files (``~$``) and partial uploads are skipped: they are not
    deliveries yet.
    """
    fs, root = _fs(landing_url)
    base = posixpath.join(root.rstrip("/"), source)
    if not fs.exists(base):
        return []
    found: list[LandedFile] = []
    for path, info in fs.find(base, detail=True).items():
        name = posixpath.basename(path)
        if name.startswith(IGNORED_PREFIXES) or name.endswith(IGNORED_SUFFIXES):
            continue
        if info.get("type", "file") != "file":
            continue
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        url = path if protocol in {"file", "local"} else f"{protocol}://{path}"
        found.append(
            LandedFile(
                url=url,
                name=name,
                relative_path=posixpath.relpath(path, base),
                modified_at=_mtime(info),
                size=int(info.get("size") or 0),
            )
        )
    return sorted(found, key=lambda f: (f.modified_at, f.name))


def read_bytes(file: LandedFile) -> bytes:
    fs, path = _fs(file.url)
    return fs.cat_file(path)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sibling(landing_url: str, folder: str) -> str:
    """``<landing>/../<folder>``: archive and quarantine live beside the landing zone."""
    stripped = landing_url.rstrip("/")
    parent = stripped.rsplit("/", 1)[0] if "/" in stripped else "."
    return f"{parent}/{folder}"


def _move(file: LandedFile, target_root: str, source: str, digest: str) -> str:
    fs, _ = _fs(file.url)
    _, root = _fs(target_root)
    target = posixpath.join(root, source, f"{digest[:12]}__{file.name}")
    fs.makedirs(posixpath.dirname(target), exist_ok=True)
    fs.mv(_fs(file.url)[1], target)
    return target


def archive(file: LandedFile, landing_url: str, source: str, digest: str) -> str:
    """Move a processed file to ``archive/<source>/<hash prefix>__<name>``; returns the path."""
    return _move(file, _sibling(landing_url, "archive"), source, digest)


def quarantine(
    file: LandedFile, landing_url: str, source: str, digest: str, reason: str, detail: str
) -> str:
    """Move a refused file to ``quarantine/`` and write why beside it."""
    target = _move(file, _sibling(landing_url, "quarantine"), source, digest)
    fs, _ = _fs(_sibling(landing_url, "quarantine"))
    note = {
        "file": file.name,
        "relative_path": file.relative_path,
        "sha256": digest,
        "reason": reason,
        "detail": detail,
        "quarantined_at": datetime.now(UTC).isoformat(),
    }
    with fs.open(f"{target}.reason.json", "w", encoding="utf-8") as handle:
        json.dump(note, handle, ensure_ascii=False, indent=2)
    return target
