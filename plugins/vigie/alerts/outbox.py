"""The outbox: e-mails written as ``.eml`` files when no mail server is configured.

``<outbox_dir>/<week>/<recipient>.eml``, one file per recipient and week, so that re-running a
week replaces its files instead of adding copies, and an operator can open each message in any
mail client exactly as it would have been sent (CRLF line endings, as on the wire). Each file
is written to a temporary name then renamed, so a crash never leaves half a message behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage
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


def write_outbox(messages: list[EmailMessage], outbox_dir: Path) -> list[Path]:
    """Write each message to ``<outbox_dir>/<X-Vigie-Week>/<recipient>.eml``; return the paths.

    A re-run overwrites the same files (never a second copy). Two messages for the same
    recipient and week in one call would silently overwrite each other, so that is refused.
    """
    targets: dict[Path, EmailMessage] = {}
    for message in messages:
        path = Path(outbox_dir) / _week(message) / f"{safe_recipient(_recipient(message))}.eml"
        if path in targets:
            raise ValueError(f"two messages for the same recipient and week: {path}")
        targets[path] = message
    for path, message in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, message.as_bytes(policy=SMTP))
    return list(targets)
