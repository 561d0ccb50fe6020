"""The outbox: e-mails written as ``.eml`` files when no mail server is configured.

``<outbox_dir>/<week>/<recipient>.eml``, one file per recipient and week, so that re-running a
week never adds copies, and an operator can open each message in any mail client exactly as it
would have been sent (CRLF line endings, as on the wire). Each file is written to a temporary
name then renamed, so a crash never leaves half a message behind.

Once per content, as with SMTP: a message whose file already holds the same content (the same
``X-Vigie-Checksum``, which covers everything but the ``Date`` header) is skipped, its file
left as it was; a message whose content changed replaces its file.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP
from pathlib import Path

_UNSAFE = re.compile(r"[^a-z0-9@._+-]")


def safe_recipient(address: str) -> str:
    """``Spv-93@Pilotes.example`` -> ``spv-93@pilotes.example``; anything odd becomes ``_``."""
    name = _UNSAFE.sub("_", address.strip().lower()).lstrip(".")
    return name or "_"


def _week(message: EmailMessage) -> str:
    value = message["X-Vigie-Week"]
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError as error:  # also guards the path: only a date can become a folder
        raise ValueError(f"message {message['Message-ID']}: bad X-Vigie-Week {value!r}") from error


def _recipient(message: EmailMessage) -> str:
    addresses: tuple[Address, ...] = message["To"].addresses if message["To"] is not None else ()
    if len(addresses) != 1:
        raise ValueError(f"message {message['Message-ID']}: expected exactly one To address")
    return addresses[0].addr_spec


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def outbox_path(message: EmailMessage, outbox_dir: Path) -> Path:
    """``<outbox_dir>/<X-Vigie-Week>/<recipient>.eml``."""
    return Path(outbox_dir) / _week(message) / f"{safe_recipient(_recipient(message))}.eml"


def _written_checksum(path: Path) -> str | None:
    """The ``X-Vigie-Checksum`` of the message already at ``path`` (None: no such file)."""
    try:
        with path.open("rb") as handle:
            headers = BytesHeaderParser().parse(handle)
    except FileNotFoundError:
        return None
    value = headers["X-Vigie-Checksum"]
    return str(value).strip() if value else None


def write_outbox(
    messages: list[EmailMessage], outbox_dir: Path, *, force: bool = False
) -> tuple[list[Path], list[Path]]:
    """Write each message to ``<outbox_dir>/<X-Vigie-Week>/<recipient>.eml``.

    Returns ``(written, skipped)``: a message whose file already holds the same checksum is
    skipped (unless ``force``), one whose content changed replaces its file (never a second
    copy). Two messages for the same recipient and week in one call would overwrite each
    other, so that is refused.
    """
    targets: dict[Path, EmailMessage] = {}
    for message in messages:
        path = outbox_path(message, outbox_dir)
        if path in targets:
            raise ValueError(f"two messages for the same recipient and week: {path}")
        targets[path] = message
    written, skipped = [], []
    for path, message in targets.items():
        checksum = str(message["X-Vigie-Checksum"] or "").strip()
        if not force and checksum and _written_checksum(path) == checksum:
            skipped.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        policy = message.policy.clone(linesep="\r\n") if message.policy else SMTP
        _atomic_write(path, message.as_bytes(policy=policy))
        written.append(path)
    return written, skipped
