"""The FIPD priority-share figures of the weekly e-mails, typed: a year, a territory.

Built from the rows of ``marts.fipd_priority_share``; what every renderer (text, HTML, chart,
CSV) reads, so that they all speak of the same two years and the same statuses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vigie.reference.pilots import DEPARTEMENTS, NATIONAL, normalise_perimetre
from vigie.settings import get_settings

OK, BELOW_TARGET, NO_DATA = "ok", "below_target", "no_data"
STATUSES = frozenset({OK, BELOW_TARGET, NO_DATA})
NATIONAL_CODE = "FR"
_STATUS_LABELS = {OK: "cible atteinte", BELOW_TARGET: "sous la cible", NO_DATA: "pas de données"}


@dataclass(frozen=True)
class YearFigures:
    """One row of ``marts.fipd_priority_share``, typed, for one territory and one year."""

    annee: int
    current: bool
    status: str
    nb_actions: int | None
    montant_scope: float | None
    montant_located: float | None
    montant_beneficiaries: float | None
    share_located: float | None
    share_beneficiaries: float | None
    target: float
    gap_eur: float | None

    @property
    def period(self) -> str:
        return "année en cours" if self.current else "exercice clos"

    @property
    def status_label(self) -> str:
        return _STATUS_LABELS[self.status]

    @property
    def below(self) -> bool:
        return self.status == BELOW_TARGET

    @property
    def no_data(self) -> bool:
        return self.status == NO_DATA


@dataclass(frozen=True)
class Territory:
    """A département (or France) with its figures: the current year first, then the closed one."""

    code: str
    nom: str
    years: tuple[YearFigures, ...]

    @property
    def label(self) -> str:
        return self.nom if self.code == NATIONAL_CODE else f"{self.nom} ({self.code})"

    @property
    def below_years(self) -> list[YearFigures]:
        return [y for y in self.years if y.below]

    @property
    def no_data_years(self) -> list[YearFigures]:
        return [y for y in self.years if y.no_data]

    @property
    def category(self) -> str:
        """``below_target`` if either year is, else ``no_data`` if either year is, else ``ok``."""
        if self.below_years:
            return BELOW_TARGET
        return NO_DATA if self.no_data_years else OK

    @property
    def headline(self) -> YearFigures:
        """The year a subject line should speak of: the first below target, else without data."""
        return (self.below_years or self.no_data_years or list(self.years))[0]

    def worst_first_key(self) -> tuple[float, float, int, str]:
        gaps = [y.gap_eur or 0.0 for y in self.below_years]
        shares = [y.share_located for y in self.below_years if y.share_located is not None]
        return (-max(gaps, default=0.0), min(shares, default=1.0), *code_order(self.code))


_ORDER = {code: index for index, code in enumerate(DEPARTEMENTS)}


def code_order(code: str) -> tuple[int, str]:
    """Official order (01 ... 19, 2A, 2B, 21 ... 976), unknown codes last."""
    return (_ORDER.get(code, len(_ORDER)), code)


def _missing_value(value: Any) -> bool:
    """``None``, NaN and pandas' ``NA`` all mean "absent" (the DAG may hand pandas rows)."""
    if value is None or type(value).__name__ in {"NAType", "NaTType"}:
        return True
    return isinstance(value, float) and math.isnan(value)


def _opt_float(value: Any) -> float | None:
    if _missing_value(value):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _opt_int(value: Any) -> int | None:
    number = _opt_float(value)
    return None if number is None else int(number)


def row_code(value: Any) -> str:
    text = str(value).strip().upper()
    if text == NATIONAL_CODE:
        return NATIONAL_CODE
    code = normalise_perimetre(text)
    return text if code is None or code == NATIONAL else code


def collect_territories(
    share_rows: Iterable[Mapping[str, Any]], current_year: int
) -> tuple[Territory, dict[str, Territory]]:
    """France and every département, each with exactly the two years (missing -> ``no_data``).

    The départements are the 101 of the geography plus any other code the mart has, so that a
    département absent from the mart is still reported, as without data.
    """
    years = (current_year, current_year - 1)
    figures: dict[tuple[str, int], YearFigures] = {}
    names: dict[str, str] = {}
    for row in share_rows:
        annee = int(row["annee"])
        if annee not in years:
            continue
        code = row_code(row["code_departement"])
        if (code, annee) in figures:
            raise ValueError(f"fipd_priority_share: two rows for {code} {annee}")
        status = str(row["status"])
        if status not in STATUSES:
            raise ValueError(f"fipd_priority_share: {code} {annee}: unknown status {status!r}")
        nom = row.get("nom_departement")
        if not _missing_value(nom) and str(nom).strip():
            names.setdefault(code, str(nom).strip())
        figures[(code, annee)] = YearFigures(
            annee=annee,
            current=annee == current_year,
            status=status,
            nb_actions=_opt_int(row.get("nb_actions_scope")),
            montant_scope=_opt_float(row.get("montant_scope")),
            montant_located=_opt_float(row.get("montant_located")),
            montant_beneficiaries=_opt_float(row.get("montant_beneficiaries")),
            share_located=_opt_float(row.get("share_located")),
            share_beneficiaries=_opt_float(row.get("share_beneficiaries")),
            target=float(row["target"]),
            gap_eur=_opt_float(row.get("gap_eur")),
        )

    national_targets = [figures[k].target for k in figures if k[0] == NATIONAL_CODE]
    default_target = national_targets[0] if national_targets else get_settings().fipd_target

    def territory(code: str) -> Territory:
        nom = names.get(code) or ("France" if code == NATIONAL_CODE else DEPARTEMENTS.get(code))
        return Territory(
            code=code,
            nom=nom or code,
            years=tuple(
                figures.get((code, annee)) or missing_year(annee, current_year, default_target)
                for annee in years
            ),
        )

    codes = set(DEPARTEMENTS) | {code for code, _ in figures if code != NATIONAL_CODE}
    departements = {code: territory(code) for code in sorted(codes, key=code_order)}
    return territory(NATIONAL_CODE), departements


def _missing(annee: int, current_year: int, target: float) -> YearFigures:
    return YearFigures(
        annee, annee == current_year, NO_DATA, None, None, None, None, None, None, target, None
    )


def missing_year(annee: int, current_year: int, target: float) -> YearFigures:
    return YearFigures(
        annee, annee == current_year, NO_DATA, None, None, None, None, None, None, target, None
    )
