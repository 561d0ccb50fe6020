"""The XLSX template association structures fill in, generated from the contract module.

Why generated: the labels, the columns and their order come from
:mod:`vigie.contracts.associations`, so the template cannot drift from what the loader reads (a
test compares the committed file with a fresh build, byte for byte). Run
``uv run python -m vigie.contracts.association_template`` after changing the contract.

The workbook: ``Identification`` (label in column A, value in column B, a drop-down for the
network), ``Activité`` (a merged title above the header, one row per territory served, whole
numbers >= 0 enforced by Excel's data validation), and ``Notice`` (what each column means,
and that no data about a person may be written anywhere).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from vigie.contracts import associations as contract
from vigie.settings import SOURCE_TREE_ROOT

if TYPE_CHECKING:  # openpyxl is imported when the template is built
    from openpyxl import Workbook

TEMPLATE_PATH = (
    SOURCE_TREE_ROOT
    / "include"
    / "templates"
    / "associations"
    / "rapport_activite_associations.xlsx"
)
ACTIVITY_ROWS = 200  # rows prepared with data validation under the header
_STAMP = datetime(2026, 1, 1)  # fixed document dates: the same contract gives the same bytes
_HELP = {
    "code_commune": "Code INSEE à 5 caractères (ex. 93066), dans le département déclaré ou un "
    "département voisin.",
    "codes_qpv": "Codes des quartiers prioritaires servis, séparés par « | » (ex. QP093006).",
    "nb_jeunes_accueillis": "Nombre entier >= 0.",
    "nb_familles_accompagnees": "Nombre entier >= 0.",
    "nb_actions_collectives": "Nombre entier >= 0.",
    "nb_professionnels_formes": "Nombre entier >= 0 (facultatif).",
    "nb_situations_radicalisation_orientees": "Nombre entier >= 0 (facultatif). Donnée sensible : "
    "conservée à part, jamais publiée.",
    "montant_fipd_recu": "Montant en euros (facultatif), ex. 12 500,50.",
}
_IDENTIFICATION_HELP = {
    "reseau": "FNEPE, ANPAEJ, CNLAPS ou Autre.",
    "structure": "Nom de la structure (pas celui d'une personne).",
    "siret": "14 chiffres.",
    "code_departement": "Code du département (ex. 01, 2A, 93, 974).",
    "periode": "2019 (rapport annuel), 2019-S1 ou 2019-S2 (semestriel).",
}


def build_workbook() -> Workbook:
    """The template as an openpyxl workbook (empty values, labels, validations, notice)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    bold = Font(bold=True)
    title_font = Font(bold=True, size=13)
    fill = PatternFill("solid", fgColor="DDEBF7")
    book = Workbook()
    ident = book.active
    ident.title = contract.SHEET_IDENTIFICATION
    ident["A1"] = "Rapport d'activité des associations — convention Ville–Intérieur"
    ident["A1"].font = title_font
    ident.merge_cells("A1:B1")
    ident["A2"] = (
        "Renseignez la colonne B. Aucune donnée sur une personne (nom, prénom, date de "
        "naissance, téléphone, e-mail, adresse) : le rapport serait refusé."
    )
    ident["A2"].alignment = Alignment(wrap_text=True)
    ident.merge_cells("A2:B2")
    ident.row_dimensions[2].height = 32
    first = 4
    for offset, label in enumerate(contract.IDENTIFICATION_LABELS.values()):
        row = first + offset
        ident.cell(row, 1, label).font = bold
        value = ident.cell(row, 2)
        value.fill = fill
        value.number_format = "@"  # codes keep their leading zeros
    reseaux = DataValidation(
        type="list", formula1='"' + ",".join(contract.RESEAUX) + '"', allow_blank=False
    )
    reseaux.add(f"B{first}")
    ident.add_data_validation(reseaux)
    ident.column_dimensions["A"].width = 18
    ident.column_dimensions["B"].width = 60

    activity = book.create_sheet(contract.SHEET_ACTIVITE)
    columns = [c.name for c in contract.ACTIVITE_COLUMNS]
    last = get_column_letter(len(columns))
    activity["A1"] = "Activité par territoire servi — une ligne par commune"
    activity["A1"].font = title_font
    activity.merge_cells(f"A1:{last}1")
    for position, name in enumerate(columns, start=1):
        cell = activity.cell(2, position, contract.ACTIVITE_LABELS[name])
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        activity.column_dimensions[get_column_letter(position)].width = 20
    activity.row_dimensions[2].height = 45
    activity.freeze_panes = "A3"
    rows = f"3:{ACTIVITY_ROWS + 2}"
    counts = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0")
    money = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0")
    for position, column in enumerate(contract.ACTIVITE_COLUMNS, start=1):
        letter = get_column_letter(position)
        cells = f"{letter}{rows.split(':')[0]}:{letter}{rows.split(':')[1]}"
        if column.type == "integer":
            counts.add(cells)
        elif column.type == "money":
            money.add(cells)
        else:
            for row in range(3, ACTIVITY_ROWS + 3):
                activity.cell(row, position).number_format = "@"
    activity.add_data_validation(counts)
    activity.add_data_validation(money)

    notice = book.create_sheet("Notice")
    notice.append(["Feuille", "Champ", "Obligatoire", "Consigne"])
    for cell in notice[1]:
        cell.font = bold
    for column in contract.IDENTIFICATION_COLUMNS:
        notice.append(
            [
                contract.SHEET_IDENTIFICATION,
                contract.IDENTIFICATION_LABELS[column.name],
                "oui",
                _IDENTIFICATION_HELP[column.name],
            ]
        )
    for column in contract.ACTIVITE_COLUMNS:
        notice.append(
            [
                contract.SHEET_ACTIVITE,
                contract.ACTIVITE_LABELS[column.name],
                "oui" if column.required else "non",
                _HELP[column.name],
            ]
        )
    notice.append([])
    notice.append(
        [
            "Un nouveau rapport pour le même SIRET et la même période remplace le "
            "précédent. Formats acceptés : ce modèle XLSX, CSV ou JSON."
        ]
    )
    for letter, width in zip("ABCD", (16, 48, 12, 90), strict=True):
        notice.column_dimensions[letter].width = width
    book.properties.creator = "Vigie"
    book.properties.title = "Rapport d'activité des associations"
    book.properties.created = _STAMP
    book.properties.modified = _STAMP
    return book


def template_bytes() -> bytes:
    """The template's bytes, identical on every build of the same contract.

    openpyxl stamps the save time on the ZIP entries and in ``docProps/core.xml``; both are
    replaced by a fixed one.
    """
    buffer = io.BytesIO()
    build_workbook().save(buffer)
    fixed = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            stamped = zipfile.ZipInfo(info.filename, date_time=_STAMP.timetuple()[:6])
            stamped.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(<)",
                    rb"\g<1>" + _STAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>",
                    data,
                )
            target.writestr(stamped, data)
    return fixed.getvalue()


def write_template(path: Path = TEMPLATE_PATH) -> Path:
    """Write the template (``include/templates/associations/`` by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(template_bytes())
    return path


if __name__ == "__main__":  # pragma: no cover - the maintainers' regeneration command
    print(write_template())
