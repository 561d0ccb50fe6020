"""Header matching with the tolerance the contracts promise senders.

Case, accents, spaces, ``-`` and ``_`` are not significant, and neither are the small French
words humans put in column titles ("Intitulé *de l'*action", "Porteur *du* projet").

The percent sign is significant: spreadsheets title a share "% QPV" or "Part QPV (%)", and
folding the sign away would read "% QPV" as the list of QPV. A title holding ``%`` has a key
of its own (``"%qpv"``, wherever the sign stands), which only a percentage column declares.

Every header cell is accounted for (:func:`match_header`): it is mapped to a column, or it is
an *unknown* title, a *duplicate* (the same title again) or an *ambiguous* one (another title
of a column already matched); the first title matching a column wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

_STOPWORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "en", "a", "au", "aux"})
PERCENT = "%"

UNKNOWN_COLUMN = "unknown_column"
AMBIGUOUS_COLUMN = "ambiguous_column"
DUPLICATE_COLUMN = "duplicate_column"


@lru_cache(maxsize=4096)
def header_key(label: str) -> str:
    """``"Intitulé de l'action"`` -> ``"intituleaction"``; ``"N° dossier"`` -> ``"ndossier"``;
    ``"% QPV"`` and ``"QPV (%)"`` -> ``"%qpv"``."""
    text = unicodedata.normalize("NFKD", label)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", text) if t]
    kept = [t for t in tokens if t not in _STOPWORDS] or tokens
    key = "".join(kept)
    # NFKD turns the full-width and small percent signs into "%"; "‰" is not a share of 100.
    return PERCENT + key if PERCENT in text else key


def synonym_index(synonyms: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """``{canonical: [synonyms]}`` -> ``{key: canonical}`` (the canonical name matches itself)."""
    index: dict[str, str] = {}
    for canonical, names in synonyms.items():
        for name in (canonical, *names):
            key = header_key(name)
            if index.get(key, canonical) != canonical:
                raise ValueError(f"header {name!r} is a synonym of two columns")
            index[key] = canonical
    return index


@dataclass(frozen=True)
class IgnoredColumn:
    """A header cell that is not loaded, and why (``reason`` is one of the three above)."""

    position: int  # 0-based, in the header
    label: str
    reason: str
    column: str | None = None  # the column an ambiguous or duplicate title also matches

    def describe(self) -> str:
        """``unknown_column 'Commentaire' (column 12)``, for logs and the audit record."""
        also = f", already read as {self.column}" if self.column else ""
        return f"{self.reason} {self.label!r} (column {self.position + 1}{also})"


@dataclass(frozen=True)
class HeaderMatch:
    """Position -> canonical column for the cells that load; the others, each with a reason."""

    mapped: dict[int, str]
    ignored: tuple[IgnoredColumn, ...] = field(default=())


def match_header(header: list[str], index: Mapping[str, str]) -> HeaderMatch:
    """Every header cell placed: mapped to a column, or ignored with a reason.

    The first title matching a column wins; a later cell with the same title is a
    ``duplicate_column``, a later cell with another title of the same column an
    ``ambiguous_column`` (which of the two holds the data is the sender's to say).
    """
    mapped: dict[int, str] = {}
    first: dict[str, str] = {}  # canonical -> key of the title that won
    ignored: list[IgnoredColumn] = []
    for position, label in enumerate(header):
        key = header_key(label)
        canonical = index.get(key)
        if canonical is None:
            ignored.append(IgnoredColumn(position, label, UNKNOWN_COLUMN))
        elif canonical in first:
            reason = DUPLICATE_COLUMN if first[canonical] == key else AMBIGUOUS_COLUMN
            ignored.append(IgnoredColumn(position, label, reason, canonical))
        else:
            first[canonical] = key
            mapped[position] = canonical
    return HeaderMatch(mapped, tuple(ignored))


def map_header(header: list[str], index: Mapping[str, str]) -> dict[int, str]:
    """Position -> canonical column, for the header cells that are recognised."""
    return match_header(header, index).mapped
