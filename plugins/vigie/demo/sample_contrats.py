"""A deterministic history of contrats de ville follow-ups (docs/contracts/prefectures.md).

Why: the PART-annex check (``part_annex_missing``), ``marts.contrats_de_ville`` and
``dim_contrat_de_ville`` need what prefectures send each year: one follow-up file per
département and year, every contract of the département with where its radicalisation-
prevention annex stands. Contracts follow the real calendar: the 2015-2023 generation
(``CV-<dep>-<n>``) is followed up to 2023, the "Quartiers 2030" generation (``CV24-<dep>-<n>``,
2024 QPV geography) from 2024 on. Each contract walks one of the annex's paths: adopted (with
its date, kept in later follow-ups), never (``non``), in preparation since last year, in
preparation for several successive years. The same four shapes as the FIPD files rotate
(clean CSV, Windows-1252 CSV with human labels, BOM CSV with synonyms, XLSX with a merged title
row), a few rows are invalid (an adopted annex without its date, a duplicated contract) and a
few départements never send a follow-up. Same seed and ``today``, same bytes and mtimes.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from vigie.demo.sample_associations import workbook_bytes
from vigie.demo.sample_prefectures import luhn_complete
from vigie.reference.geography import ReferenceData

FIRST_YEAR = 2017
NEW_GENERATION_YEAR = 2024  # "Quartiers 2030" contracts replace the 2015-2023 ones
CANONICAL = [
    "code_departement",
    "annee",
    "contrat_id",
    "nom_contrat",
    "siren_epci",
    "plan_radicalisation",
    "date_adoption_plan",
    "nb_qpv",
]
HUMAN = [
    "Département",
    "Année",
    "Id contrat",
    "Nom du contrat",
    "SIREN EPCI",
    "Annexe PART",
    "Date adoption plan",
    "Nb QPV",
]
SYNONYMS = [
    "dep",
    "annee",
    "id_contrat",
    "intitule",
    "siren_epci",
    "annexe_part",
    "date_adoption_plan",
    "nb_qpv",
]
LABELS = {  # how the annex's status is written, per shape
    1: {"oui": "oui", "non": "non", "en_cours": "en_cours"},
    2: {"oui": "Adopté", "non": "Non", "en_cours": "En préparation"},
    3: {"oui": "X", "non": "", "en_cours": "En cours"},
    4: {"oui": "Oui", "non": "N", "en_cours": "En cours"},
}
# The annex's path over a contract's follow-ups: (path, weight).
PATHS = (("adopted", 55), ("none", 15), ("recent", 15), ("long", 15))
SILENT_SHARE = 0.03  # départements that never send a follow-up (the check's no_data)
INVALID_SHARE = 0.15  # files with one invalid row (files of at least 6 contracts only)


@dataclass
class Contrat:
    contrat_id: str
    nom: str
    siren_epci: str | None
    nb_qpv: int
    path: str
    first_year: int
    last_year: int | None  # None: still followed up
    adopted_on: date | None = None
    preparing_from: int | None = None


@dataclass
class ContratsSample:
    """What was written, with the answers a test or a demo can check against."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)  # départements without any follow-up
    paths: dict[str, str] = field(default_factory=dict)  # contrat_id -> annex path
    invalid_rows: dict[Path, str] = field(default_factory=dict)  # file -> reason


def _shape(rank: int, year: int) -> int:
    return 1 + (rank + 2 * year + 1) % 4


def _epci(ref: ReferenceData, dep: str) -> list[tuple[str, str]]:
    """(SIREN, name) of the département's EPCI, largest first (by population)."""
    communes = ref.communes[
        (ref.communes["code_departement"] == dep) & ref.communes["siren_epci"].notna()
    ]
    sizes = communes.groupby("siren_epci")["population"].sum().sort_values(ascending=False)
    names = dict(zip(ref.epci["siren_epci"], ref.epci["nom_epci"], strict=True))
    return [(str(s), str(names.get(s, f"EPCI {s}"))) for s in sizes.index]


def _contracts(
    dep: str, nom_dep: str, ref: ReferenceData, years: list[int], rng: random.Random
) -> list[Contrat]:
    epcis = _epci(ref, dep) or [(luhn_complete(f"2000{rng.randint(10000, 99999)}"), nom_dep)]
    out: list[Contrat] = []
    for generation, first, last in (
        ("CV", years[0], NEW_GENERATION_YEAR - 1),
        ("CV24", NEW_GENERATION_YEAR, None),
    ):
        if first > years[-1] or (last is not None and last < years[0]):
            continue
        geography = "2015" if generation == "CV" else "2024"
        qpv = ref.qpv[(ref.qpv["geographie"] == geography) & (ref.qpv["code_departement"] == dep)]
        if qpv.empty:
            continue
        count = max(1, min(len(epcis), 12, round(len(qpv) / 3)))
        shares = [rng.random() + 0.2 for _ in range(count)]
        for number in range(1, count + 1):
            siren, epci_name = epcis[number - 1]
            path = rng.choices([p for p, _ in PATHS], [w for _, w in PATHS])[0]
            contrat = Contrat(
                contrat_id=f"{generation}-{dep}-{number:02d}",
                nom=f"Contrat de ville {'2024-2030 ' if generation == 'CV24' else ''}"
                f"de {epci_name}",
                siren_epci=siren if rng.random() < 0.9 else None,
                nb_qpv=max(1, round(len(qpv) * shares[number - 1] / sum(shares))),
                path=path,
                first_year=first,
                last_year=last,
            )
            end = min(last or years[-1], years[-1])
            if path == "adopted":
                year = rng.randint(first, max(first, end - 1))
                contrat.adopted_on = date(year, rng.randint(1, 11), rng.randint(1, 28))
            elif path == "recent":
                contrat.preparing_from = end
            elif path == "long":
                contrat.preparing_from = max(first, end - rng.randint(2, 4))
            out.append(contrat)
    return out


def _status(contrat: Contrat, year: int) -> tuple[str, date | None]:
    if contrat.adopted_on is not None and year >= contrat.adopted_on.year:
        return "oui", contrat.adopted_on
    if contrat.preparing_from is not None and year >= contrat.preparing_from:
        return "en_cours", None
    if contrat.path in {"adopted", "long"} and year > contrat.first_year:
        return "en_cours", None  # the annex was being written before its adoption
    return "non", None


def _csv(header: list[str], rows: list[list[str]], delimiter: str, encoding: str) -> bytes:
    buffer = io.StringIO()
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_ALL if delimiter == "," else csv.QUOTE_MINIMAL
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n", quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    if encoding == "cp1252":
        return text.encode("cp1252", "replace")
    return (b"\xef\xbb\xbf" if delimiter == "," else b"") + text.encode("utf-8")


def _file_bytes(
    shape: int, dep: str, nom_dep: str, year: int, rows: list[tuple[Contrat, str, date | None]]
) -> tuple[str, bytes]:
    labels = LABELS[shape]
    if shape == 4:
        table: list[list[object]] = [
            [f"Suivi {year} des contrats de ville — {nom_dep} ({dep})"],
            [],
            list(HUMAN),
        ]
        for c, status, adopted in rows:
            table.append(
                [
                    int(dep) if dep.isdigit() and len(dep) == 2 else dep,
                    year,
                    c.contrat_id,
                    c.nom,
                    c.siren_epci,
                    labels[status],
                    adopted.strftime("%d/%m/%Y") if adopted else None,
                    c.nb_qpv,
                ]
            )
        data = workbook_bytes(
            {f"Suivi {year}": table}, {f"Suivi {year}": ["A1:H1"]}, stamp=(year, 1, 1)
        )
        return "xlsx", data
    text_rows = []
    for c, status, adopted in rows:
        when = ""
        if adopted:
            when = adopted.isoformat() if shape == 1 else adopted.strftime("%d/%m/%Y")
        text_rows.append(
            [
                dep.lstrip("0") if shape == 2 and dep.isdigit() and len(dep) == 2 else dep,
                str(year),
                c.contrat_id,
                c.nom,
                c.siren_epci or "",
                labels[status],
                when,
                str(c.nb_qpv),
            ]
        )
    if shape == 1:
        return "csv", _csv(CANONICAL, text_rows, ";", "utf-8")
    if shape == 2:
        return "csv", _csv(HUMAN, text_rows, ";", "cp1252")
    return "csv", _csv(SYNONYMS, text_rows, ",", "utf-8")


def write_contrats_sample(
    out_dir: Path,
    ref: ReferenceData,
    today: date,
    seed: int = 20170410,
    departements: Iterable[str] | None = None,
) -> ContratsSample:
    """Write ``out_dir/prefectures/<year>/contrats_<dep>_<year>.(csv|xlsx)`` for every year
    from 2017 to ``today``'s, and return what was written.

    A year's follow-up arrives in the December of that year (the current year's in the month
    before ``today``, and never after it), a minute apart per département.
    """
    years = list(range(FIRST_YEAR, today.year + 1))
    order = [str(d) for d in ref.departements["code_departement"]]
    names = dict(
        zip(ref.departements["code_departement"], ref.departements["nom_departement"], strict=True)
    )
    rng = random.Random(f"{seed}:contrats")
    silent = sorted(rng.sample(order, max(1, round(SILENT_SHARE * len(order)))))
    sample = ContratsSample(Path(out_dir), years=years, silent=silent)
    wanted = set(order) if departements is None else set(departements)
    for rank, dep in enumerate(order):
        if dep in silent or dep not in wanted:
            continue
        dep_rng = random.Random(f"{seed}:contrats:{dep}")
        contracts = _contracts(dep, str(names[dep]), ref, years, dep_rng)
        if not contracts:
            continue  # no QPV, no contrat de ville
        sample.paths.update({c.contrat_id: c.path for c in contracts})
        for year in years:
            live = [
                c
                for c in contracts
                if c.first_year <= year and (c.last_year is None or year <= c.last_year)
            ]
            rows = [(c, *_status(c, year)) for c in live]
            reason = None
            if len(rows) >= 6 and dep_rng.random() < INVALID_SHARE:
                index = dep_rng.randrange(len(rows))
                c, _, _ = rows[index]
                if len(rows) >= 10 and dep_rng.random() < 0.5:
                    # The same contract twice: both rows are rejected, 2 of 11 stay under 20 %.
                    rows.append((c, "en_cours", None))
                    reason = "duplicate_contrat"
                else:
                    rows[index] = (c, "oui", None)  # adopted, without its date
                    reason = "missing_required"
            shape = _shape(rank, year)
            ext, data = _file_bytes(shape, dep, str(names[dep]), year, rows)
            folder = Path(out_dir) / "prefectures" / str(year)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"contrats_{dep}_{year}.{ext}"
            path.write_bytes(data)
            if year < today.year:
                sent = datetime(year, 12, 10, 9, tzinfo=UTC)
            else:
                sent = max(
                    datetime(year, 1, 2, 9, tzinfo=UTC),
                    datetime(today.year, today.month, today.day, 9, tzinfo=UTC)
                    - timedelta(days=10),
                )
            sent += timedelta(minutes=rank)
            os.utime(path, (sent.timestamp(), sent.timestamp()))
            sample.files.append(path)
            if reason:
                sample.invalid_rows[path] = reason
    return sample
