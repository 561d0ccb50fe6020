"""The pilots directory: who receives the weekly alerts (docs/contracts/reference.md).

It is configuration edited by hand, often in Excel, so it is read with the tolerance the
contracts promise senders (BOM, ``;`` or ``,``, ``1`` for ``01``, ``2a`` for ``2A``, Excel's
``="01"``), but a wrong address or territory is refused loudly: an alert sent to nobody, or to
the wrong prefecture, is worse than a run that stops and names the row to fix.

Stdlib only (plus the pure header matcher), so the example directory can be checked anywhere.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from vigie.parsing.headers import header_key, synonym_index

NATIONAL = "national"

# The 101 départements (INSEE COG), in official order. Names label départements that the mart
# does not mention at all, so that they can still be reported as "pas de données".
DEPARTEMENTS: dict[str, str] = {
    "01": "Ain",
    "02": "Aisne",
    "03": "Allier",
    "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes",
    "07": "Ardèche",
    "08": "Ardennes",
    "09": "Ariège",
    "10": "Aube",
    "11": "Aude",
    "12": "Aveyron",
    "13": "Bouches-du-Rhône",
    "14": "Calvados",
    "15": "Cantal",
    "16": "Charente",
    "17": "Charente-Maritime",
    "18": "Cher",
    "19": "Corrèze",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "21": "Côte-d'Or",
    "22": "Côtes-d'Armor",
    "23": "Creuse",
    "24": "Dordogne",
    "25": "Doubs",
    "26": "Drôme",
    "27": "Eure",
    "28": "Eure-et-Loir",
    "29": "Finistère",
    "30": "Gard",
    "31": "Haute-Garonne",
    "32": "Gers",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "36": "Indre",
    "37": "Indre-et-Loire",
    "38": "Isère",
    "39": "Jura",
    "40": "Landes",
    "41": "Loir-et-Cher",
    "42": "Loire",
    "43": "Haute-Loire",
    "44": "Loire-Atlantique",
    "45": "Loiret",
    "46": "Lot",
    "47": "Lot-et-Garonne",
    "48": "Lozère",
    "49": "Maine-et-Loire",
    "50": "Manche",
    "51": "Marne",
    "52": "Haute-Marne",
    "53": "Mayenne",
    "54": "Meurthe-et-Moselle",
    "55": "Meuse",
    "56": "Morbihan",
    "57": "Moselle",
    "58": "Nièvre",
    "59": "Nord",
    "60": "Oise",
    "61": "Orne",
    "62": "Pas-de-Calais",
    "63": "Puy-de-Dôme",
    "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées",
    "66": "Pyrénées-Orientales",
    "67": "Bas-Rhin",
    "68": "Haut-Rhin",
    "69": "Rhône",
    "70": "Haute-Saône",
    "71": "Saône-et-Loire",
    "72": "Sarthe",
    "73": "Savoie",
    "74": "Haute-Savoie",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "79": "Deux-Sèvres",
    "80": "Somme",
    "81": "Tarn",
    "82": "Tarn-et-Garonne",
    "83": "Var",
    "84": "Vaucluse",
    "85": "Vendée",
    "86": "Vienne",
    "87": "Haute-Vienne",
    "88": "Vosges",
    "89": "Yonne",
    "90": "Territoire de Belfort",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}

_COLUMNS = synonym_index(
    {
        "perimetre": ("périmètre", "departement", "code_departement", "territoire"),
        "role": ("rôle", "fonction", "qualite"),
        "email": ("e-mail", "mail", "courriel", "adresse_electronique", "adresse_mail"),
    }
)
_NATIONAL_WORDS = frozenset({"national", "nationale", "nat", "france", "fr"})
# Pragmatic, not RFC 5322: what a prefecture address looks like, and nothing that would let a
# typo ("jean.dupont@interieur", "a@b@c", "x@y.fr;z@w.fr") pass as one address.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_EXCEL_WRAPPED = re.compile(r'^="(.*)"$', re.DOTALL)


@dataclass(frozen=True)
class Pilot:
    """One row of the directory: ``perimetre`` is ``national`` or a département code."""

    perimetre: str
    role: str
    email: str


def _unwrap(value: str) -> str:
    value = value.strip()
    match = _EXCEL_WRAPPED.match(value)
    return match.group(1).strip() if match else value


def normalise_perimetre(value: str) -> str | None:
    """``'1'`` -> ``'01'``, ``'2a'`` -> ``'2A'``, ``'093'`` -> ``'93'``, ``'National'`` ->
    ``'national'``; ``None`` when it is no known territory (``'20'``, ``'975'``, ``'x'``)."""
    text = _unwrap(value).upper()
    if text.lower() in _NATIONAL_WORDS:
        return NATIONAL
    if re.fullmatch(r"0\d{2}|0?2[AB]", text):  # 3-character form used in QPV codes
        text = text[1:] if len(text) == 3 else text
    if re.fullmatch(r"\d", text):
        text = "0" + text
    return text if text in DEPARTEMENTS else None


def _decode(data: bytes) -> str:
    """UTF-8 (BOM or not) first; cp1252 because the file is often saved from Excel."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _delimiter(header_line: str) -> str:
    for candidate in (";", "\t", ","):
        if candidate in header_line:
            return candidate
    return ";"


def read_pilots(path: Path) -> list[Pilot]:
    """Read and check the pilots directory; every problem is reported at once.

    Rows are numbered as a spreadsheet shows them (the header is row 1). Addresses are stored
    lower-cased, since they are compared to group one message per recipient. Exact duplicate
    rows are kept once.

    Raises:
        ValueError: unreadable header, or rows with an unknown ``perimetre``, a missing role or
            an invalid e-mail address; the message names the file, each row and its reason.
    """
    path = Path(path)
    text = _decode(path.read_bytes())
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise ValueError(f"{path}: the pilots directory is empty (expected perimetre;role;email)")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first))
    positions: dict[str, int] | None = None
    pilots: list[Pilot] = []
    errors: list[str] = []
    for cells in reader:
        row = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if positions is None:
            positions = {}
            for index, label in enumerate(cells):
                column = _COLUMNS.get(header_key(label))
                if column is not None and column not in positions:
                    positions[column] = index
            missing = [c for c in ("perimetre", "role", "email") if c not in positions]
            if missing:
                raise ValueError(
                    f"{path}: row {row}: header {cells!r} lacks column(s) {', '.join(missing)} "
                    "(expected perimetre;role;email)"
                )
            continue
        raw = {c: _unwrap(cells[i]) if i < len(cells) else "" for c, i in positions.items()}
        reasons = []
        perimetre = normalise_perimetre(raw["perimetre"])
        if perimetre is None:
            hint = " (Corsica is 2A or 2B)" if raw["perimetre"] == "20" else ""
            reasons.append(
                f"unknown perimetre {raw['perimetre']!r}{hint}: expected 'national' or a "
                "département code (01-95, 2A, 2B, 971-974, 976)"
            )
        if not raw["role"]:
            reasons.append("empty role")
        if not raw["email"]:
            reasons.append("missing e-mail address")
        elif not _EMAIL.fullmatch(raw["email"]):
            reasons.append(f"invalid e-mail address {raw['email']!r}")
        if reasons:
            errors.append(f"row {row}: {'; '.join(reasons)}")
            continue
        assert perimetre is not None
        pilot = Pilot(perimetre, " ".join(raw["role"].split()), raw["email"].lower())
        if pilot not in pilots:
            pilots.append(pilot)
    if errors:
        raise ValueError(
            f"{path}: {len(errors)} invalid row(s) in the pilots directory:\n  "
            + "\n  ".join(errors)
        )
    return pilots
