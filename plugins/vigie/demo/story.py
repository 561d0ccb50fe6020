"""The demo's landing zone: every source, every year up to ``today``, every check's answer.

Why one module: the demo (``vigie demo``, ``make demo``) and its tests must tell one story in
time. ``today`` is the only clock: the FIPD programmes of 2017 to ``today``'s year (2015 QPV
geography before ``VIGIE_QPV_2024_FROM_YEAR``, 2024 from it), the contrats de ville follow-ups of
every year, the association reports of every period due by ``today`` and the police-population
indicators up to the last complete month are all drawn from it, so a test that passes a date
gets the same bytes on any day. The known answers of each weekly check in ``today``'s week:

- ``fipd_share_below_target``: the current year's départements below target (alert), the
  others (ok), the prefectures whose programme of the year has not arrived (no_data);
- ``fipd_export_missing``: those same prefectures (alert), the others (ok);
- ``part_annex_missing``: contracts without annex (alert), adopted or in preparation (ok),
  départements that never sent a follow-up (not_monitored: nothing to look at);
- ``police_indicator_drop``: the planted drops (alert), the rest (ok), two département-forces
  whose latest month is not published yet (no_data);
- ``association_report_missing``: structures missing a report now due (alert), the others (ok).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from vigie.demo.sample_associations import AssociationSample, write_association_history
from vigie.demo.sample_contrats import ContratsSample, write_contrats_sample
from vigie.demo.sample_police import _last_complete_month, drops, generate_indicators
from vigie.demo.sample_prefectures import SampleSummary, write_sample
from vigie.reference.geography import load_reference
from vigie.settings import get_settings

FIRST_YEAR = 2017
SEED = 20170410
POLICE_SEED = 42
LATE_PREFECTURES = 3  # prefectures whose programme of the current year has not arrived
UNPUBLISHED_POLICE = 2  # département-forces whose latest month is not published yet
# A drop the README's police question shows (Seine-Saint-Denis), beside the sample's own:
# (département, force, indicator, factor over the last four months).
DEMO_DROP = ("93", "PN", "cameras_pietons_enregistrements", 0.5)


@dataclass
class DemoSample:
    """What the demo's landing zone holds, with each check's known answer."""

    out_dir: Path
    today: date
    fipd: SampleSummary
    contrats: ContratsSample
    associations: AssociationSample
    late_prefectures: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [*self.fipd.files, *self.contrats.files, *self.associations.files]


def write_demo_sample(
    out_dir: Path, today: date, seed: int = SEED, departements: Iterable[str] | None = None
) -> DemoSample:
    """Write the prefecture and association files of the demo under ``out_dir`` (a landing
    zone root) as they stand on ``today``; the police indicators are :func:`police_frame`.

    ``departements`` (tests): only the files of those départements (senders, structures),
    the same bytes as in the whole sample; the known answers stay the whole sample's.
    """
    settings = get_settings()
    ref = load_reference(settings.reference_dir)
    out_dir = Path(out_dir)
    wanted = None if departements is None else sorted(set(departements))
    fipd = write_sample(
        out_dir,
        seed=seed,
        current_year=today.year,
        departements=wanted,
        years=range(FIRST_YEAR, today.year + 1),
    )
    below = set(fipd.below_target.get(today.year, []))
    candidates = [d for d in ref.departements["code_departement"] if d not in below]
    late = sorted(random.Random(f"{seed}:late").sample(candidates, LATE_PREFECTURES))
    for dep in late:
        for path in list(fipd.files):
            if path.parent.name == str(today.year) and path.stem.split("_")[1] == dep:
                path.unlink()
                fipd.files.remove(path)
    contrats = write_contrats_sample(out_dir, ref, today, seed=seed, departements=wanted)
    associations = write_association_history(out_dir, today, seed=seed, departements=wanted)
    return DemoSample(out_dir, today, fipd, contrats, associations, late)


def police_frame(
    today: date, seed: int = POLICE_SEED, departements: Iterable[str] | None = None
) -> pd.DataFrame:
    """The police-population indicators the demo's API serves on ``today``: every month from
    2017 to the last complete one, as published by then, with :data:`DEMO_DROP` besides the
    sample's planted drops, minus the latest published month of :func:`unpublished` (late
    publications: the drop check's ``no_data``)."""
    frame = generate_indicators(seed, today)
    dep, force, indicator, factor = DEMO_DROP
    months = sorted(frame["mois"].unique())[-4:]
    dropped = (
        frame["code_departement"].eq(dep)
        & frame["force"].eq(force)
        & frame["indicateur"].eq(indicator)
        & frame["mois"].isin(months)
    )
    frame.loc[dropped, "valeur"] = (frame.loc[dropped, "valeur"] * factor).round().astype("Int64")
    latest = frame["mois"].max()
    missing = unpublished(today, seed)
    late = frame["mois"].eq(latest) & pd.Series(
        [(d, f) in missing for d, f in zip(frame["code_departement"], frame["force"], strict=True)],
        index=frame.index,
    )
    kept = ~late
    if departements is not None:
        kept &= frame["code_departement"].isin(set(departements))
    return frame[kept].reset_index(drop=True)


def unpublished(today: date, seed: int = POLICE_SEED) -> set[tuple[str, str]]:
    """(département, force) whose latest month is not published in the demo; never a drop's."""
    planted = {d.code_departement for d in drops(seed, today)} | {DEMO_DROP[0]}
    codes = [str(c) for c in load_reference().departements["code_departement"] if c not in planted]
    rng = random.Random(f"{seed}:unpublished:{_last_complete_month(today)}")
    return {(code, rng.choice(["PN", "GN"])) for code in rng.sample(codes, UNPUBLISHED_POLICE)}
