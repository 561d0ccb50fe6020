"""Header matching with the tolerance the contracts promise senders.

Case, accents, spaces, ``-`` and ``_`` are not significant, and neither are the small French
words humans put in column titles ("Intitulé *de l'*action", "Porteur *du* projet").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

_STOPWORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "en", "a", "au", "aux"})


@lru_cache(maxsize=4096)
def header_key(label: str) -> str:
    """``"Intitulé de l'action"`` -> ``"intituleaction"``; ``"N° dossier"`` -> ``"ndossier"``."""
    text = unicodedata.normalize("NFKD", label)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", text) if t]
    kept = [t for t in tokens if t not in _STOPWORDS] or tokens
    return "".join(kept)


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


def map_header(header: list[str], index: Mapping[str, str]) -> dict[int, str]:
    """Position -> canonical column, for the header cells that are recognised."""
    mapped: dict[int, str] = {}
    for position, label in enumerate(header):
        canonical = index.get(header_key(label))
        if canonical is not None and canonical not in mapped.values():
            mapped[position] = canonical
    return mapped
