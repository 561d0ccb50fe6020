"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the tests.

It can refuse the next ``n`` messages with a temporary failure (``451``), the way a relay
under load or in maintenance does, so retry behaviour is tested against real SMTP replies.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from vigie.demo.local_cluster import free_port

__all__ = ["Mailbox", "free_port", "smtp_conn_uri", "smtp_server"]


@dataclass
class Mailbox:
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse_next: int = 0
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 Temporary failure, try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"

    def recipients(self) -> list[str]:
        return sorted(rcpt for rcpts, _ in self.received for rcpt in rcpts)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.received if address in rcpts]


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[Mailbox, int]]:
    """Serve a fresh mailbox on 127.0.0.1:``port`` (a free one by default) until exit."""
    mailbox = Mailbox()
    port = port or free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def smtp_conn_uri(port: int, sender: str = "vigie-noreply@pilotes.example") -> str:
    """An ``AIRFLOW_CONN_SMTP_DEFAULT`` for a plain local server (docs/architecture.md: no TLS)."""
    return (
        f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true"
        f"&from_email={sender}&timeout=10&retry_limit=0"
    )
