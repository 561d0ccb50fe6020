"""Association reports as senders write them, for the tests (real codes from the reference)."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from vigie.demo.sample_associations import report_csv, report_json, report_xlsx
from vigie.demo.sample_prefectures import luhn_complete


def siret(n: int) -> str:
    """A valid SIRET (Luhn) derived from ``n``."""
    siren = luhn_complete(f"{40_000_000 + n:08d}")
    return luhn_complete(siren + "0001")


def ident(n: int = 1, **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "reseau": "ANPAEJ",
        "structure": f"Point accueil écoute jeunes n°{n}",
        "siret": siret(n),
        "code_departement": "13",
        "periode": "2019",
    }
    base.update(over)
    return base


def row(commune: str, jeunes: int = 120, familles: int = 30, actions: int = 8, **over) -> dict:
    base: dict[str, object] = {
        "code_commune": commune,
        "nb_jeunes_accueillis": jeunes,
        "nb_familles_accompagnees": familles,
        "nb_actions_collectives": actions,
    }
    base.update(over)
    return base


def drop(landing: Path, name: str, data: bytes, when: datetime | None = None) -> Path:
    """Write a report under ``<landing>/associations/`` with a given arrival time."""
    path = landing / "associations" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if when is not None:
        stamp = when.replace(tzinfo=UTC).timestamp() if when.tzinfo is None else when.timestamp()
        os.utime(path, (stamp, stamp))
    return path


def with_formula_without_value(data: bytes, cell: str = "C3") -> bytes:
    """The workbook with ``cell`` of the Activité sheet turned into a formula never computed."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            xml = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet2.xml":
                start = xml.index(f'<c r="{cell}"'.encode())
                end = xml.index(b"</c>", start) + 4
                xml = xml[:start] + f'<c r="{cell}"><f>SUM(A1:A2)</f></c>'.encode() + xml[end:]
            target.writestr(info, xml)
    return out.getvalue()


__all__ = [
    "drop",
    "ident",
    "report_csv",
    "report_json",
    "report_xlsx",
    "row",
    "siret",
    "with_formula_without_value",
]
