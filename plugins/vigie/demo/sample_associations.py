"""A deterministic year of association activity reports (docs/contracts/associations.md).

Why: the loader, the mart's suppression rule and the demo need the reports real networks send,
with their habits: hundreds of structures of the three networks (FNEPE écoles des parents,
ANPAEJ points accueil-écoute jeunes, CNLAPS prévention spécialisée, a few others) spread over
real communes of the reference, most sending the XLSX template (title rows, merged cells,
numbers typed as numbers), some a CSV in a French encoding or the online form's JSON; annual
or half-yearly reports, some late, some sent again corrected (superseding the first), and a
few that must be refused (personal data, invalid SIRET, unreadable période, a row outside the
département). Same seed, same bytes and modification times.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape as xml_escape

from vigie.alerts.checks import due_periods
from vigie.contracts import associations as contract
from vigie.demo.sample_prefectures import luhn_complete
from vigie.reference.geography import ReferenceData, load_reference
from vigie.reference.neighbours import neighbours
from vigie.settings import get_settings

DEFAULT_YEAR = 2019
# Structures per network in the sample (docs/domain.md: ~50 FNEPE, ~470 PAEJ, the CNLAPS network).
NETWORK_SIZES = {"FNEPE": 50, "ANPAEJ": 170, "CNLAPS": 110, "Autre": 12}
HALF_YEARLY_SHARE = {"FNEPE": 0.0, "ANPAEJ": 0.5, "CNLAPS": 0.2, "Autre": 0.0}
LATE_SHARE = 0.10
CORRECTED_SHARE = 0.05
SHAPE_WEIGHTS = {"xlsx": 70, "csv": 18, "json": 12}
# People a structure reaches in a year, per territory served (median, sigma): PAEJ ~500 a year.
REACH = {"FNEPE": (140, 0.8), "ANPAEJ": (160, 0.7), "CNLAPS": (90, 0.8), "Autre": (40, 0.9)}
NAMES = {
    "FNEPE": [
        "École des parents et des éducateurs de {d}",
        "EPE {d}",
        "École des parents et des éducateurs du pays de {c}",
    ],
    "ANPAEJ": [
        "Point accueil écoute jeunes de {c}",
        "PAEJ {c}",
        "Espace jeunes écoute {c}",
        "Point écoute jeunes et parents de {c}",
    ],
    "CNLAPS": [
        "Club de prévention de {c}",
        "Association de prévention spécialisée de {c}",
        "Prévention spécialisée {d}",
        "Service de prévention spécialisée de {c}",
    ],
    "Autre": [
        "Maison des adolescents de {d}",
        "Association Médiation Jeunesse {c}",
        "Centre social de {c}",
    ],
}
RESEAU_LABELS = {
    "FNEPE": "FNEPE",
    "ANPAEJ": "Point accueil écoute jeunes",
    "CNLAPS": "Prévention spécialisée",
    "Autre": "Autre",
}
INVALID_KINDS = (
    "personal_data_column",
    "personal_data_identification",
    "invalid_siret",
    "invalid_siret",
    "invalid_periode",
    "inconsistent_identification",
    "row_outside_departement",
    "row_negative_count",
    "row_unknown_commune",
)


@dataclass
class Structure:
    reseau: str
    name: str
    siret: str
    departement: str
    communes: list[str]
    half_yearly: bool
    shape: str


@dataclass
class AssociationSample:
    """What was written, with the answers a test or a demo can check against."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    structures: list[Structure] = field(default_factory=list)
    late: list[Path] = field(default_factory=list)
    corrected: list[Path] = field(default_factory=list)  # the later file of each pair
    invalid: dict[str, list[Path]] = field(default_factory=dict)  # reason -> files
    missing_due: list[Structure] = field(default_factory=list)  # a report now due is missing


# --- a small, deterministic XLSX writer -----------------------------------------------------

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _letter(index: int) -> str:
    letters, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(ref: str, value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{xml_escape(str(value))}</t></is></c>'


def workbook_bytes(
    sheets: dict[str, list[list[object]]],
    merges: dict[str, list[str]] | None = None,
    stamp: tuple[int, int, int] = (2020, 1, 1),
) -> bytes:
    """An XLSX of ``{sheet name: rows}`` with merged ranges, written by hand.

    Why not openpyxl: it is several times slower for thousands of small workbooks (the bench
    writes 5,000) and stamps the current time, so its bytes are never the same twice.
    """
    merges = merges or {}
    parts: dict[str, str] = {}
    names = list(sheets)
    for number, name in enumerate(names, start=1):
        rows = "".join(
            f'<row r="{r}">'
            + "".join(_cell(f"{_letter(c)}{r}", v) for c, v in enumerate(row))
            + "</row>"
            for r, row in enumerate(sheets[name], start=1)
        )
        ranges = merges.get(name, [])
        merged = (
            f'<mergeCells count="{len(ranges)}">'
            + "".join(f'<mergeCell ref="{r}"/>' for r in ranges)
            + "</mergeCells>"
            if ranges
            else ""
        )
        parts[f"xl/worksheets/sheet{number}.xml"] = (
            f'<worksheet xmlns="{_NS}"><sheetData>{rows}</sheetData>{merged}</worksheet>'
        )
    parts["xl/workbook.xml"] = (
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
        + "".join(
            f'<sheet name="{xml_escape(n)}" sheetId="{k}" r:id="rId{k}"/>'
            for k, n in enumerate(names, start=1)
        )
        + "</sheets></workbook>"
    )
    parts["xl/_rels/workbook.xml.rels"] = (
        f'<Relationships xmlns="{_PKG_REL}">'
        + "".join(
            f'<Relationship Id="rId{k}" Type="{_REL}/worksheet" Target="worksheets/sheet{k}.xml"/>'
            for k in range(1, len(names) + 1)
        )
        + "</Relationships>"
    )
    parts["_rels/.rels"] = (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    parts["[Content_Types].xml"] = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{_CT}.worksheet+xml"/>'
            for k in range(1, len(names) + 1)
        )
        + "</Types>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(*stamp, 0, 0, 0)), _XML + xml)
    return out.getvalue()


# --- the three shapes of one report ---------------------------------------------------------


def report_xlsx(
    identification: dict[str, object],
    rows: list[dict[str, object]],
    extra_identification: dict[str, object] | None = None,
) -> bytes:
    """The template as a structure fills it: titles merged over the tables, typed numbers."""
    ident_rows: list[list[object]] = [
        ["Rapport d'activité — prévention de la délinquance et de la radicalisation"],
        [],
    ]
    for name, label in contract.IDENTIFICATION_LABELS.items():
        ident_rows.append([label, identification.get(name)])
    for label, value in (extra_identification or {}).items():
        ident_rows.append([label, value])
    columns = list(dict.fromkeys(k for row in rows for k in row)) or list(contract.ACTIVITE_LABELS)
    header: list[object] = [contract.ACTIVITE_LABELS.get(c, c) for c in columns]
    activity: list[list[object]] = [
        [f"Activité par territoire — période {identification.get('periode')}"],
        header,
        *[[row.get(c) for c in columns] for row in rows],
    ]
    last = _letter(len(columns) - 1)
    return workbook_bytes(
        {contract.SHEET_IDENTIFICATION: ident_rows, contract.SHEET_ACTIVITE: activity},
        {contract.SHEET_IDENTIFICATION: ["A1:B1"], contract.SHEET_ACTIVITE: [f"A1:{last}1"]},
    )


def _text(value: object, french: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.2f}"
        return text.replace(".", ",") if french else text
    return str(value)


def report_csv(
    identification: dict[str, object], rows: list[dict[str, object]], variant: int
) -> bytes:
    """Variants: 0 UTF-8 ``;``; 1 Windows-1252 ``;`` with human headers and French numbers;
    2 UTF-8 with BOM, ``,``, everything quoted, ``="01053"`` protection of codes."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    ident = list(contract.IDENTIFICATION)
    if variant == 1:
        header = [contract.IDENTIFICATION_LABELS[c] for c in ident] + [
            contract.ACTIVITE_LABELS.get(c, c) for c in columns
        ]
    else:
        header = ident + columns
    lines = []
    for row in rows:
        values = [_text(identification.get(c), variant == 1) for c in ident]
        values += [_text(row.get(c), variant == 1) for c in columns]
        if variant == 2:
            values = [f'="{v}"' if v[:1] == "0" else v for v in values]
        lines.append(values)
    buffer = io.StringIO()
    delimiter = "," if variant == 2 else ";"
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_ALL if variant == 2 else csv.QUOTE_MINIMAL
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n", quoting=quoting)
    writer.writerow(header)
    writer.writerows(lines)
    text = buffer.getvalue()
    if variant == 1:
        return text.encode("cp1252", "replace")
    return (b"\xef\xbb\xbf" if variant == 2 else b"") + text.encode("utf-8")


def report_json(identification: dict[str, object], rows: list[dict[str, object]]) -> bytes:
    """As the online form posts it; ``codes_qpv`` as a list."""
    activity = [
        {
            k: (v.split("|") if k == "codes_qpv" and isinstance(v, str) else v)
            for k, v in row.items()
        }
        for row in rows
    ]
    document = {"identification": identification, "activite": activity}
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


# --- the year's structures and reports ------------------------------------------------------


def _siret(rng: random.Random) -> str:
    siren = luhn_complete(str(rng.randint(30_000_000, 99_999_999)))
    return luhn_complete(siren + f"{rng.randint(10, 99):04d}")


class _Geography:
    """Communes per département (largest first) and QPV per commune, from the reference."""

    def __init__(self, ref: ReferenceData, geographie: str) -> None:
        communes = ref.communes[ref.communes["type"] == "commune-actuelle"]
        communes = communes.sort_values(["population", "code_commune"], ascending=[False, True])
        self.names = dict(zip(communes["code_commune"], communes["nom_commune"], strict=True))
        self.top: dict[str, list[str]] = {
            str(dep): [str(c) for c in group["code_commune"].head(30)]
            for dep, group in communes.groupby("code_departement")
        }
        population = communes.groupby("code_departement")["population"].sum()
        self.weights = {str(d): math.sqrt(float(p)) for d, p in population.items()}
        self.dep_names = dict(
            zip(
                ref.departements["code_departement"],
                ref.departements["nom_departement"],
                strict=True,
            )
        )
        qpv = ref.qpv[ref.qpv["geographie"] == geographie]
        self.qpv: dict[str, list[str]] = {}
        for code, listed in zip(qpv["code_qpv"], qpv["codes_communes"], strict=True):
            for commune in str(listed).split("|"):
                self.qpv.setdefault(commune, []).append(str(code))
        self.unknown = "99999"


def _structures(geo: _Geography, rng: random.Random, scale: int = 1) -> list[Structure]:
    deps = sorted(geo.top)
    weights = [geo.weights[d] for d in deps]
    out = []
    sirets: set[str] = set()
    for reseau, size in NETWORK_SIZES.items():
        for _ in range(size * scale):
            dep = rng.choices(deps, weights)[0]
            served = rng.choices([1, 2, 3, 4, 6], [40, 25, 18, 10, 7])[0]
            pool = geo.top[dep][: max(served * 3, 6)]
            communes = rng.sample(pool, min(served, len(pool)))
            near = [d for d in sorted(neighbours(dep)) if d in geo.top]
            if near and rng.random() < 0.08:  # a structure working across the border
                communes.append(rng.choice(geo.top[rng.choice(near)][:5]))
            town = geo.names[communes[0]]
            name = rng.choice(NAMES[reseau]).format(c=town, d=geo.dep_names[dep])
            shape = rng.choices(list(SHAPE_WEIGHTS), list(SHAPE_WEIGHTS.values()))[0]
            half = rng.random() < HALF_YEARLY_SHARE[reseau]
            siret = _siret(rng)
            while scale > 1 and siret in sirets:  # benchmarks: distinct senders, no supersession
                siret = _siret(rng)
            sirets.add(siret)
            out.append(Structure(reseau, name, siret, dep, communes, half, shape))
    return out


def _rows(s: Structure, geo: _Geography, periode: str, rng: random.Random) -> list[dict]:
    median, sigma = REACH[s.reseau]
    scale = 0.5 if "-S" in periode else 1.0
    rows = []
    for commune in s.communes:
        jeunes = max(0, round(rng.lognormvariate(math.log(median * scale), sigma)))
        if rng.random() < 0.12:  # small rural antennas: counts under the threshold
            jeunes = rng.randint(0, 9)
        row: dict[str, object] = {
            "code_commune": commune,
            "codes_qpv": "|".join(geo.qpv.get(commune, [])[:2]) or None,
            "nb_jeunes_accueillis": jeunes,
            "nb_familles_accompagnees": round(jeunes * rng.uniform(0.1, 0.6)),
            "nb_actions_collectives": rng.randint(0, 25),
            "nb_professionnels_formes": rng.choice([None, rng.randint(0, 40)]),
            "nb_situations_radicalisation_orientees": rng.choice([None, 0, 0, 1, 2, 3]),
            "montant_fipd_recu": rng.choice([None, float(rng.randint(20, 300) * 100)]),
        }
        rows.append(row)
    return rows


def _deadline(year: int, periode: str) -> datetime:
    """Annual and second-half reports are due on 31 March, first-half ones on 30 September."""
    if periode.endswith("-S1"):
        return datetime(year, 9, 30, tzinfo=UTC)
    return datetime(year + 1, 3, 31, tzinfo=UTC)


def _payload(
    s: Structure, identification: dict, rows: list[dict], variant: int
) -> tuple[str, bytes]:
    if s.shape == "xlsx":
        return "xlsx", report_xlsx(identification, rows)
    if s.shape == "csv":
        return "csv", report_csv(identification, rows, variant)
    return "json", report_json(identification, rows)


def _spoil(
    kind: str, s: Structure, identification: dict, rows: list[dict], geo: _Geography
) -> tuple[str, bytes]:
    """A report the loader must refuse (whole, or some of its rows)."""
    ident = dict(identification)
    if kind == "personal_data_column":
        rows = [{**r, "nom_prenom_jeune": "Prénom Nom"} for r in rows]
        return "xlsx", report_xlsx(ident, rows)
    if kind == "personal_data_identification":
        return "xlsx", report_xlsx(ident, rows, {"Téléphone du référent": "06 12 34 56 78"})
    if kind == "invalid_siret":
        ident["siret"] = str(ident["siret"])[:-1] + str((int(str(ident["siret"])[-1]) + 1) % 10)
        return "xlsx", report_xlsx(ident, rows)
    if kind == "invalid_periode":
        ident["periode"] = "T3 " + str(ident["periode"])[:4]
        return "json", report_json(ident, rows)
    if kind == "inconsistent_identification":
        data = (
            report_csv(ident, rows, 0)
            + report_csv({**ident, "siret": _siret(random.Random(s.siret))}, rows, 0).split(
                b"\r\n", 1
            )[1]
        )
        return "csv", data
    bad = dict(rows[0])
    if kind == "row_outside_departement":
        far = next(
            d for d in sorted(geo.top) if d != s.departement and d not in neighbours(s.departement)
        )
        bad["code_commune"] = geo.top[far][0]
        bad["codes_qpv"] = None
    elif kind == "row_negative_count":
        bad["code_commune"] = geo.top[s.departement][-1]
        bad["nb_jeunes_accueillis"] = -4
    else:
        bad["code_commune"] = geo.unknown
    # Enough good rows that the bad one stays under the 20 % quarantine threshold.
    extra = [
        dict(rows[0], code_commune=c) for c in geo.top[s.departement][10:15] if c not in s.communes
    ]
    return "xlsx", report_xlsx(ident, [*rows, *extra, bad])


def write_association_sample(
    out_dir: Path, seed: int = 20170410, year: int = DEFAULT_YEAR, scale: int = 1
) -> AssociationSample:
    """Write ``out_dir/associations/<year>/<réseau>/<siret>_<période>[_corrige].<ext>``.

    ``out_dir`` is the landing zone root (as for
    :func:`vigie.demo.sample_prefectures.write_sample`).
    Modification times say when each report arrived: within a few weeks before its deadline,
    a tenth of them up to four months late, corrections two to six weeks after the first.
    ``scale`` (benchmarks) multiplies the structures, hence the reports and rows, with distinct
    SIRETs; the default gives the same files as before.
    """
    settings = get_settings()
    ref = load_reference(settings.reference_dir)
    geography = "2015" if year < settings.qpv_2024_from_year else "2024"
    geo = _Geography(ref, geography)
    rng = random.Random(f"{seed}:associations:{year}")
    sample = AssociationSample(Path(out_dir))
    sample.structures = _structures(geo, rng, scale)
    spoiled = dict(
        zip(
            rng.sample(range(len(sample.structures)), len(INVALID_KINDS)),
            INVALID_KINDS,
            strict=True,
        )
    )
    for index, s in enumerate(sample.structures):
        periodes = [f"{year}-S1", f"{year}-S2"] if s.half_yearly else [str(year)]
        for periode in periodes:
            written = (
                "1er semestre " + str(year)
                if periode.endswith("-S1") and index % 3 == 0
                else periode
            )
            identification = {
                "reseau": RESEAU_LABELS[s.reseau] if s.shape != "json" else s.reseau,
                "structure": s.name,
                "siret": int(s.siret) if s.shape == "xlsx" and index % 2 else s.siret,
                "code_departement": int(s.departement)
                if s.shape == "xlsx" and s.departement.isdigit()
                else s.departement,
                "periode": written,
            }
            rows = _rows(s, geo, periode, rng)
            if index in spoiled and periode == periodes[-1]:
                kind = spoiled[index]
                ext, data = _spoil(kind, s, identification, rows, geo)
                sample.invalid.setdefault(kind, [])
            else:
                kind = None
                ext, data = _payload(s, identification, rows, index % 3)
            folder = Path(out_dir) / "associations" / str(year) / s.reseau
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{s.siret}_{periode}.{ext}"
            path.write_bytes(data)
            due = _deadline(year, periode)
            late = rng.random() < LATE_SHARE
            arrived = (
                due + timedelta(days=rng.randint(5, 120))
                if late
                else due - timedelta(days=rng.randint(1, 40), minutes=index)
            )
            os.utime(path, (arrived.timestamp(), arrived.timestamp()))
            sample.files.append(path)
            if kind:
                sample.invalid[kind].append(path)
            if late:
                sample.late.append(path)
            if kind is None and rng.random() < CORRECTED_SHARE:
                fixed = [
                    dict(r, nb_actions_collectives=int(r["nb_actions_collectives"]) + 1)
                    for r in rows
                ]
                _, data = _payload(s, identification, fixed, index % 3)
                corrected = folder / f"{s.siret}_{periode}_corrige.{ext}"
                corrected.write_bytes(data)
                again = arrived + timedelta(days=rng.randint(14, 42))
                os.utime(corrected, (again.timestamp(), again.timestamp()))
                sample.files.append(corrected)
                sample.corrected.append(corrected)
    return sample


# --- every period up to the ones now due ----------------------------------------------------

HISTORY_FIRST_YEAR = 2019
JOINED_LATER_SHARE = 0.15  # structures that started reporting after the first year
STOPPED_SHARE = 0.06  # structures that stopped reporting at some period before the due ones
STOPPED_DUE_SHARE = 0.05  # structures whose report for a period now due is missing


def _periods_until(today: date, half_yearly: bool) -> list[str]:
    """Every period from 2019 whose report is due by ``today`` (see ``due_periods``)."""
    annual, semester = due_periods(today)
    if not half_yearly:
        return [str(y) for y in range(HISTORY_FIRST_YEAR, int(annual) + 1)]
    last = (int(semester[:4]), int(semester[-1]))
    return [
        f"{y}-S{s}"
        for y in range(HISTORY_FIRST_YEAR, last[0] + 1)
        for s in (1, 2)
        if (y, s) <= last
    ]


def write_association_history(
    out_dir: Path, today: date, seed: int = 20170410, departements: Iterable[str] | None = None
) -> AssociationSample:
    """Every structure's reports, from 2019 to the periods due by ``today``.

    The structures are drawn once, so a SIRET reports period after period; a few joined
    later, a few stopped at some period, and a few have not sent the report of a period now
    due (``association_report_missing`` alerts on them; the others are ``ok``). The files are
    as :func:`write_association_sample` writes them (shapes, corrections, late arrivals),
    under ``associations/<year>/<réseau>/``, never arriving after ``today``; the invalid ones
    are spread over the years. ``departements`` (tests) writes only the structures of those
    départements: the same files as the whole sample's, for them.
    """
    settings = get_settings()
    ref = load_reference(settings.reference_dir)
    geos = {g: _Geography(ref, g) for g in ("2015", "2024")}
    rng = random.Random(f"{seed}:associations:history")
    sample = AssociationSample(Path(out_dir))
    sample.structures = _structures(geos["2015"], rng)
    due = set(due_periods(today))
    now = datetime(today.year, today.month, today.day, 6, tzinfo=UTC)
    plans: list[list[str]] = []
    for s in sample.structures:
        periodes = _periods_until(today, s.half_yearly)
        if rng.random() < JOINED_LATER_SHARE:
            periodes = periodes[rng.randint(1, max(1, len(periodes) - 3)) :]
        draw = rng.random()
        if draw < STOPPED_DUE_SHARE:
            periodes = [p for p in periodes if p not in due]
            sample.missing_due.append(s)
        elif draw < STOPPED_DUE_SHARE + STOPPED_SHARE:
            periodes = periodes[: rng.randint(1, max(1, len(periodes) - 2))]
        plans.append(periodes)
    spoiled = dict(
        zip(
            rng.sample(range(len(sample.structures)), len(INVALID_KINDS)),
            INVALID_KINDS,
            strict=True,
        )
    )
    wanted = None if departements is None else set(departements)
    for index, (s, periodes) in enumerate(zip(sample.structures, plans, strict=True)):
        if wanted is not None and s.departement not in wanted:
            continue
        srng = random.Random(f"{seed}:associations:{s.siret}")  # a subset, the same bytes
        for periode in periodes:
            year = int(periode[:4])
            geo = geos["2015" if year < settings.qpv_2024_from_year else "2024"]
            written = (
                "1er semestre " + str(year)
                if periode.endswith("-S1") and (index + year) % 3 == 0
                else periode
            )
            identification = {
                "reseau": RESEAU_LABELS[s.reseau] if s.shape != "json" else s.reseau,
                "structure": s.name,
                "siret": int(s.siret) if s.shape == "xlsx" and index % 2 else s.siret,
                "code_departement": int(s.departement)
                if s.shape == "xlsx" and s.departement.isdigit()
                else s.departement,
                "periode": written,
            }
            rows = _rows(s, geo, periode, srng)
            # Each invalid report replaces one of the structure's reports before the due ones.
            kind = spoiled.get(index) if periode == periodes[0] else None
            if kind:
                ext, data = _spoil(kind, s, identification, rows, geo)
                sample.invalid.setdefault(kind, [])
            else:
                ext, data = _payload(s, identification, rows, (index + year) % 3)
            folder = Path(out_dir) / "associations" / str(year) / s.reseau
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{s.siret}_{periode}.{ext}"
            path.write_bytes(data)
            deadline = _deadline(year, periode)
            late = srng.random() < LATE_SHARE
            arrived = (
                deadline + timedelta(days=srng.randint(5, 120))
                if late
                else deadline - timedelta(days=srng.randint(1, 40), minutes=index)
            )
            arrived = min(arrived, now - timedelta(minutes=index))
            os.utime(path, (arrived.timestamp(), arrived.timestamp()))
            sample.files.append(path)
            if kind:
                sample.invalid[kind].append(path)
            if late:
                sample.late.append(path)
            if kind is None and srng.random() < CORRECTED_SHARE:
                fixed = [
                    dict(r, nb_actions_collectives=int(r["nb_actions_collectives"]) + 1)
                    for r in rows
                ]
                _, data = _payload(s, identification, fixed, (index + year) % 3)
                corrected = folder / f"{s.siret}_{periode}_corrige.{ext}"
                corrected.write_bytes(data)
                again = min(arrived + timedelta(days=srng.randint(14, 42)), now)
                os.utime(corrected, (again.timestamp(), again.timestamp()))
                sample.files.append(corrected)
                sample.corrected.append(corrected)
    return sample
