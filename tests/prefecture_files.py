"""Build prefecture FIPD files in the shapes senders really produce, from canonical rows."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

NBSP, NNBSP = "\u00a0", "\u202f"

# Each column: canonical name, French header, synonym header, sloppy accented header.
_HEADERS = [
    ("code_departement", "Département", "dep", "Code Dép."),
    ("annee", "Année", "exercice", "Année budgétaire"),
    ("numero_dossier", "N° dossier", "num_dossier", "Numéro"),
    ("porteur", "Porteur du projet", "beneficiaire", "Bénéficiaire"),
    ("intitule_action", "Intitulé de l'action", "libelle", "Libellé"),
    ("programme", "Programme", "axe", "Programme FIPD"),
    ("nature", "Nature", "type_action", "Type d'action"),
    ("montant_demande", "Montant demandé", "montant_sollicite", "Montant sollicité"),
    ("montant_attribue", "Montant attribué", "MONTANT", "MONTANT ACCORDÉ"),
    ("date_attribution", "Date de décision", "date_decision", "Date de la décision"),
    ("code_commune", "Commune", "code_commune", "Code INSEE"),
    ("codes_qpv", "QPV", "quartiers", "Quartiers prioritaires"),
    ("zsp", "ZSP", "code_zsp", "Zone de sécurité prioritaire"),
    ("part_qpv", "Part bénéficiaires QPV", "part_beneficiaires_qpv", "Part des bénéficiaires QPV"),
]
CANONICAL = [canonical for canonical, _, _, _ in _HEADERS]
FRENCH = {canonical: french for canonical, french, _, _ in _HEADERS}
SYNONYMS = {canonical: synonym for canonical, _, synonym, _ in _HEADERS}
ACCENTED = {canonical: accented for canonical, _, _, accented in _HEADERS}
PROGRAMME_LABELS = {"D": "Prévention de la délinquance", "R": "Radicalisation", "S": "Sécurisation"}
NATURE_LABELS = {
    "prevention_jeunes": "Prévention jeunes",
    "videoprotection": "Vidéo-protection",
    "prevention_radicalisation": "Prévention de la radicalisation",
    "aide_aux_victimes": "Aide aux victimes",
    None: "",
}


def french_money(value: float, sep: str = NBSP) -> str:
    whole, cents = f"{value:,.2f}".split(".")
    return whole.replace(",", sep) + "," + cents + " €"


def _french_row(row: dict) -> dict:
    day: date | None = row["date_attribution"]
    return {
        **row,
        "code_departement": row["code_departement"].lstrip("0") or "0",
        "programme": PROGRAMME_LABELS[row["programme"]],
        "nature": NATURE_LABELS[row["nature"]],
        "montant_demande": french_money(row["montant_demande"]) if row["montant_demande"] else "",
        "montant_attribue": french_money(row["montant_attribue"]),
        "date_attribution": day.strftime("%d/%m/%Y") if day else "",
        "codes_qpv": ", ".join(row["codes_qpv"]),
        "part_qpv": f"{row['part_qpv'] * 100:.0f} %".replace(".", ",") if row["part_qpv"] else "",
    }


def _plain_row(row: dict) -> dict:
    day = row["date_attribution"]
    return {
        **row,
        "nature": row["nature"] or "",
        "montant_demande": f"{row['montant_demande']:.2f}" if row["montant_demande"] else "",
        "montant_attribue": f"{row['montant_attribue']:.2f}",
        "date_attribution": day.isoformat() if day else "",
        "codes_qpv": "|".join(row["codes_qpv"]),
        "part_qpv": str(row["part_qpv"]) if row["part_qpv"] else "",
    }


def _write_csv(
    path: Path, header: list[str], rows: list[list[str]], delimiter: str, encoding: str
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_variant(path: Path, rows: list[dict], variant: str) -> Path:
    """One of :data:`VARIANTS` (the shapes the contract tolerates)."""
    if variant == "clean":
        data = [[str(_plain_row(r)[c] or "") for c in CANONICAL] for r in rows]
        return _write_csv(path, CANONICAL, data, ";", "utf-8")
    if variant == "french_cp1252":
        data = [[str(_french_row(r)[c] or "") for c in CANONICAL] for r in rows]
        return _write_csv(path, [FRENCH[c] for c in CANONICAL], data, ";", "cp1252")
    if variant == "synonyms_bom_comma":
        data = []
        for r in rows:
            plain = _plain_row(r)
            plain["code_commune"] = f'="{r["code_commune"]}"' if r["code_commune"] else ""
            plain["montant_attribue"] = f"{r['montant_attribue']:,.2f}"  # 12,500.50
            if r["montant_demande"]:  # U+202F exists only in Unicode encodings
                plain["montant_demande"] = french_money(r["montant_demande"], NNBSP)
            data.append([str(plain[c] or "") for c in CANONICAL])
        return _write_csv(path, [SYNONYMS[c] for c in CANONICAL], data, ",", "utf-8-sig")
    if variant == "tab_latin1":  # ISO-8859-1 has no euro sign: senders write EUR
        data = [[str(_french_row(r)[c] or "").replace("€", "EUR") for c in CANONICAL] for r in rows]
        return _write_csv(path, [FRENCH[c] for c in CANONICAL], data, "\t", "latin-1")
    if variant == "xlsx_title":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Programme FIPD"
        sheet["A1"] = "Programmation FIPD — préfecture"
        sheet.merge_cells("A1:F1")
        sheet.append([])
        sheet.append([FRENCH[c] for c in CANONICAL])
        for r in rows:
            plain = _plain_row(r)
            values = [plain[c] for c in CANONICAL]
            values[CANONICAL.index("annee")] = int(r["annee"])
            values[CANONICAL.index("montant_attribue")] = float(r["montant_attribue"])
            values[CANONICAL.index("montant_demande")] = r["montant_demande"] or None
            values[CANONICAL.index("date_attribution")] = r["date_attribution"]
            values[CANONICAL.index("part_qpv")] = r["part_qpv"]
            sheet.append(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        book.save(path)
        return path
    if variant == "accents_sloppy_codes":  # UTF-8, accented synonyms, codes as Excel leaves them
        data = []
        for r in rows:
            french = _french_row(r)
            french["code_departement"] = r["code_departement"].lstrip("0").lower()  # 1, 2a
            french["code_commune"] = r["code_commune"].lstrip("0").lower()  # 1053, 2a004
            french["codes_qpv"] = " ; ".join(c.lower() for c in r["codes_qpv"])
            french["montant_attribue"] = french_money(r["montant_attribue"], NNBSP)
            data.append([str(french[c] or "") for c in CANONICAL])
        return _write_csv(path, [ACCENTED[c] for c in CANONICAL], data, ";", "utf-8")
    if variant == "xlsx_serials":  # numbers as numbers: dates as serials, codes lose zeros
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet["A1"] = "Préfecture — programmation FIPD"
        sheet.merge_cells("A1:N1")
        sheet["A2"] = "Extraction"
        sheet.merge_cells("A2:C2")
        sheet.append([ACCENTED[c] for c in CANONICAL])
        for r in rows:
            plain = _plain_row(r)
            day: date | None = r["date_attribution"]
            values = {
                **plain,
                "annee": int(r["annee"]),
                "code_departement": _number_or_text(r["code_departement"]),
                "code_commune": _number_or_text(r["code_commune"]),
                "montant_attribue": float(r["montant_attribue"]),
                "montant_demande": r["montant_demande"] or None,
                "date_attribution": (day - date(1899, 12, 30)).days if day else None,
                "part_qpv": r["part_qpv"],
            }
            sheet.append([values[c] for c in CANONICAL])
        path.parent.mkdir(parents=True, exist_ok=True)
        book.save(path)
        return path
    raise ValueError(variant)


def _number_or_text(code: str) -> int | str | None:
    """What a spreadsheet makes of a code typed in a General cell: ``01053`` -> ``1053``."""
    return int(code) if code.isdigit() else (code or None)


VARIANTS = (
    "clean",
    "french_cp1252",
    "synonyms_bom_comma",
    "tab_latin1",
    "xlsx_title",
    "accents_sloppy_codes",
    "xlsx_serials",
)
