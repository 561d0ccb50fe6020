"""Headers that every mail client reads the same: the Subject as self-contained encoded words.

Why: Python's header folder may fold a long non-ASCII Subject *at a space* between two
RFC 2047 encoded words; RFC 2047 (6.2) says the whitespace between adjacent encoded words is
dropped, so the space vanished ("pas dedonnées" in the Pyrénées-Orientales' inbox). Here the
Subject is encoded by hand: each encoded word carries its own spaces (``_`` in Q encoding) and
whole UTF-8 characters, and the words are separated by folding whitespace only, which every
decoder drops. Python's parser, a strict RFC 2047 decoder and a mail client then read the same
text. :data:`POLICY` is ``email.policy.default`` with that one header folded this way; the
messages carry it, so ``as_bytes()``, the outbox (CRLF) and ``smtplib`` (CRLF) all write it.
"""

from __future__ import annotations

import re
from email.policy import EmailPolicy
from typing import Any

_WORD_MAX = 66  # "Subject: " + one word stays within 78 characters (RFC 5322's SHOULD)
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")
_HEAD, _TAIL = "=?utf-8?q?", "?="


def _q(char: str) -> str:
    if char == " ":
        return "_"
    if char in _SAFE:
        return char
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


def encode_words(text: str) -> list[str]:
    """``text`` as RFC 2047 Q encoded words of at most 66 characters, whole characters each."""
    words, current = [], ""
    budget = _WORD_MAX - len(_HEAD) - len(_TAIL)
    for char in text:
        piece = _q(char)
        if len(current) + len(piece) > budget:
            words.append(_HEAD + current + _TAIL)
            current = ""
        current += piece
    if current or not words:
        words.append(_HEAD + current + _TAIL)
    return words


def fold_subject(text: str, linesep: str = "\r\n") -> str:
    """``Subject: ...`` folded: plain when it is short ASCII, else encoded words, one a line."""
    value = re.sub(r"[ \t\r\n]+", " ", text).strip()  # one line; U+202F and U+00A0 stay
    if value.isascii() and len(value) + len("Subject: ") <= 78:
        return f"Subject: {value}{linesep}"
    return "Subject: " + (linesep + " ").join(encode_words(value)) + linesep


class _VigiePolicy(EmailPolicy):
    """``email.policy.default`` whose Subject is folded by :func:`fold_subject`."""

    def fold(self, name: str, value: Any) -> str:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


POLICY = _VigiePolicy()  # "\n" like email.policy.default; smtplib and the outbox write CRLF
