"""Rendering and sending a week's pilot e-mails (national + 101 départements) to local SMTP.

    uv run python bench/bench_alerts.py [--seed 7] [--scale x10]

A realistic week for every département: FIPD share rows (current and closed year, some
départements without data), and ``marts.weekly_alerts`` rows for this week and the week before
for every check (FIPD share with its 3 largest uncounted actions, exports, police indicators
per force, contrats de ville, association reports). Recipients: the shipped pilots directory
``include/config/pilots.example.csv`` (all 101 départements, some with two addresses, two
national pilots). The e-mails go through the real path, ``vigie.alerts.sending.deliver``
(Airflow's SMTP hook, the send log on a scratch DuckDB), to an aiosmtpd server on 127.0.0.1
(tests/smtp_sink.py). Target (issue 17): the week's e-mails, the national digest's map of
France included, in under 5 s at x10 (``--scale x10``: ten times the association structures per
département, the rows that grow with the data; the FIPD share, export, police and contrat de
ville rows are one per département, year, force or contract whatever the scale). Also timed:
the same week written to the outbox (no SMTP), then written again (nothing changed: nothing
written).

Baselines in the same run: the same messages sent with plain ``smtplib`` on one connection (no
hook, no send log), and the same week rendered again once its charts are drawn (what the
charts cost). Then a re-run of the week, which must send nothing.

A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import smtplib
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

TARGET_S = 5.0
SCALES = {"national": 1, "x10": 10, "x100": 100}
WEEK = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parents[1]


def _share_rows(rng: random.Random, codes: dict[str, str]) -> list[dict]:
    rows = []
    totals = {2026: [0.0, 0.0, 0], 2025: [0.0, 0.0, 0]}
    for code, nom in codes.items():
        for annee in (2026, 2025):
            if rng.random() < 0.06:
                rows.append(
                    {
                        "code_departement": code,
                        "nom_departement": nom,
                        "annee": annee,
                        "status": "no_data",
                        "target": 0.75,
                    }
                )
                continue
            scope = round(rng.uniform(150_000, 4_000_000), 2)
            located = round(scope * rng.uniform(0.55, 0.95), 2)
            nb = rng.randint(8, 160)
            totals[annee][0] += scope
            totals[annee][1] += located
            totals[annee][2] += nb
            rows.append(_share(code, nom, annee, scope, located, nb))
    for annee, (scope, located, nb) in totals.items():
        rows.append(_share("FR", "France", annee, scope, located, nb))
    return rows


def _share(code, nom, annee, scope, located, nb) -> dict:
    benef = min(scope, located * 1.02)
    gap = max(0.0, round(0.75 * scope - located, 2))
    return {
        "code_departement": code,
        "nom_departement": nom,
        "annee": annee,
        "nb_actions_scope": nb,
        "montant_scope": scope,
        "montant_located": located,
        "montant_beneficiaries": benef,
        "share_located": located / scope,
        "share_beneficiaries": benef / scope,
        "target": 0.75,
        "gap_eur": gap,
        "status": "below_target" if gap > 0 else "ok",
    }


def _french():
    """The formatting the checks use (imported late: main() puts the project on the path)."""
    from vigie.alerts import formatting

    return formatting


def format_share(value: float) -> str:
    return _french().format_share(value)


def format_count(value: float) -> str:
    return _french().format_count(value)


def format_change(value: float) -> str:
    return _french().format_change(value)


def _alert_rows(
    rng: random.Random, week: date, shares: list[dict], codes: dict, scale: int = 1
) -> list[dict]:
    """Every check's rows for one week, built by vigie.alerts.checks' own row builder."""
    from vigie.alerts.checks import alert_row

    rows = []
    for share in shares:
        code, annee = share["code_departement"], share["annee"]
        if code == "FR":
            continue
        status = {"below_target": "alert", "ok": "ok"}.get(share["status"], "no_data")
        if status == "alert" and rng.random() < 0.15:  # last week's figures differ a little
            status = "ok"
        top = [
            {
                "numero_dossier": f"{code}-{annee}-{i:04d}",
                "porteur": f"Association {i}",
                "montant_attribue": rng.randint(2, 90) * 1000.0,
            }
            for i in range(3)
        ]
        message = (
            f"{codes[code]} ({code}), {annee} : part prioritaire localisée "
            f"{format_share(share.get('share_located') or 0)}. Plus grosses actions non "
            "comptées : " + " ; ".join(f"{t['numero_dossier']} ({t['porteur']})" for t in top)
        )
        figures = {
            "gap_eur": share.get("gap_eur"),
            "share_located": share.get("share_located"),
            "annee": annee,
            "target": 0.75,
            "uncounted_top3": top,
        }
        lineage = {
            "files": [{"name": f"fipd_{code}_{annee}.xlsx", "rows": 120}],
            "uncounted_rows": [
                {"file": f"fipd_{code}_{annee}.xlsx", "row": 4 + i} for i in range(3)
            ],
        }
        rows.append(
            alert_row(
                week,
                "fipd_share_below_target",
                "departement",
                code,
                str(annee),
                code,
                status,
                message,
                figures,
                lineage,
            )
        )
    for code, nom in codes.items():
        late = rng.random() < 0.2
        last = week - timedelta(days=rng.randint(50, 200) if late else rng.randint(1, 40))
        rows.append(
            alert_row(
                week,
                "fipd_export_missing",
                "departement",
                code,
                "2026",
                code,
                "alert" if late else "ok",
                f"{nom} ({code}) : dernier export FIPD 2026 reçu le {last:%d/%m/%Y}.",
                {"last_received_at": last.isoformat()},
                {"audit.file_loads": {"sender": code}},
            )
        )
        for force in ("PN", "GN"):
            evolution = rng.uniform(-0.45, 0.2)
            status = "alert" if evolution <= -0.2 else "ok"
            before = rng.randint(20, 4000)
            after = round(before * (1 + evolution))
            indicators = [
                {
                    "indicateur": "cameras_pietons_enregistrements",
                    "valeur": after,
                    "valeur_annee_precedente": before,
                    "evolution": evolution,
                    "fall": max(0, before - after),
                }
            ]
            rows.append(
                alert_row(
                    week,
                    "police_indicator_drop",
                    "departement_force",
                    f"{code}-{force}",
                    "2026-10",
                    code,
                    status,
                    f"{nom} ({code}), {'police' if force == 'PN' else 'gendarmerie'} "
                    f"nationale, octobre 2026 : enregistrements de caméras piétons "
                    f"{format_count(before)} → {format_count(after)} "
                    f"({format_change(evolution)}) sur un an.",
                    {"indicators": indicators if status == "alert" else []},
                    [{"source": "api", "page": 1}],
                )
            )
        for number in range(rng.randint(1, 4)):
            plan = rng.choice(["oui", "oui", "en_cours", "non"])
            rows.append(
                alert_row(
                    week,
                    "part_annex_missing",
                    "contrat_de_ville",
                    f"CV-{code}-{number}",
                    "2026",
                    code,
                    "alert" if plan == "non" else "ok",
                    f"Contrat de ville n° {number} ({code}) : "
                    + (
                        "pas d'annexe de prévention de la radicalisation au suivi 2026."
                        if plan == "non"
                        else f"annexe {plan.replace('_', ' ')}."
                    ),
                    {"plan_radicalisation": plan},
                    [],
                )
            )
        for number in range(scale if rng.random() < 0.3 else 0):
            rows.append(
                alert_row(
                    week,
                    "association_report_missing",
                    "structure",
                    f"STRUCT-{code}-{number}",
                    "2026-S1",
                    code,
                    "alert",
                    f"Structure de {nom} ({code}) : rapport 2026-S1 non reçu, attendu au "
                    "plus tard le 29/08/2026 ; dernier rapport reçu : 2025-S2.",
                    {"days_late": rng.randint(1, 120)},
                    [],
                )
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", choices=sorted(SCALES), default="national")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    sys.path.insert(0, str(ROOT))

    with tempfile.TemporaryDirectory(prefix="vigie-bench-alerts-") as tmp:
        root = Path(tmp)
        os.environ["AIRFLOW_HOME"] = str(root / "airflow")  # never the developer's .airflow
        os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"

        from vigie.reference.pilots import DEPARTEMENTS, read_pilots
        from vigie.settings import load_settings

        from tests.smtp_sink import smtp_conn_uri, smtp_server

        settings = load_settings(
            {
                "VIGIE_HOME": str(ROOT),
                "VIGIE_LANDING_URL": str(root / "landing"),
                "VIGIE_WAREHOUSE_URL": f"duckdb:///{root / 'warehouse.duckdb'}",
                "VIGIE_OUTBOX_DIR": str(root / "outbox"),
            }
        )
        pilots = read_pilots(ROOT / "include" / "config" / "pilots.example.csv")
        rng = random.Random(args.seed)
        shares = _share_rows(rng, DEPARTEMENTS)
        current = _alert_rows(rng, WEEK, shares, DEPARTEMENTS, scale)
        previous = _alert_rows(rng, WEEK - timedelta(days=7), shares, DEPARTEMENTS, scale)

        started = time.perf_counter()
        import matplotlib.figure  # noqa: F401  (what the first chart of a task pays)
        from airflow.providers.smtp.hooks.smtp import SmtpHook  # noqa: F401
        from vigie.alerts import render
        from vigie.alerts.sending import deliver

        imports = time.perf_counter() - started

        with smtp_server() as (mailbox, port):
            os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_conn_uri(port)
            started = time.perf_counter()
            messages = render.build_weekly_emails(
                WEEK,
                shares,
                pilots,
                settings.mail_from,
                alert_rows=current,
                previous_alert_rows=previous,
            )
            rendered = time.perf_counter()
            report = deliver(messages, WEEK, settings, run_id="bench")
            sent = time.perf_counter()
            render_s, send_s = rendered - started, sent - rendered
            received = len(mailbox.received)

            # Baselines, same run: charts already drawn (cached) -> rendering without drawing;
            # plain smtplib on one connection -> sending without hook and send log.
            started = time.perf_counter()
            render.build_weekly_emails(
                WEEK,
                shares,
                pilots,
                settings.mail_from,
                alert_rows=current,
                previous_alert_rows=previous,
            )
            render_nochart_s = time.perf_counter() - started
            started = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                for message in messages:
                    client.send_message(message)
            smtplib_s = time.perf_counter() - started
            started = time.perf_counter()
            rerun = deliver(messages, WEEK, settings, run_id="bench-rerun")
            rerun_s = time.perf_counter() - started
        # Without SMTP: the outbox, as `make demo` and the bench's weekly flow use it.
        os.environ.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
        outbox_settings = load_settings(
            {
                "VIGIE_HOME": str(ROOT),
                "VIGIE_LANDING_URL": str(root / "landing"),
                "VIGIE_WAREHOUSE_URL": f"duckdb:///{root / 'outbox-log.duckdb'}",
                "VIGIE_OUTBOX_DIR": str(root / "outbox"),
            }
        )
        render._chart.cache_clear()  # draw every chart and the map again, as a new task does
        render._map.cache_clear()
        started = time.perf_counter()
        again = render.build_weekly_emails(
            WEEK,
            shares,
            pilots,
            settings.mail_from,
            alert_rows=current,
            previous_alert_rows=previous,
        )
        outbox_report = deliver(again, WEEK, outbox_settings, run_id="bench-outbox")
        outbox_s = time.perf_counter() - started
        started = time.perf_counter()
        outbox_again = deliver(again, WEEK, outbox_settings, run_id="bench-outbox-rerun")
        outbox_rerun_s = time.perf_counter() - started

    count = len(messages)
    national = sum(1 for m in messages if m["X-Vigie-Perimetre"] == "national")
    covered = {c for m in messages for c in str(m["X-Vigie-Perimetre"]).split(",")} - {"national"}
    sizes = sorted(len(m.as_bytes()) for m in messages)
    total = render_s + send_s
    print(f"scale {args.scale}")
    print(
        f"week {WEEK}: {count} e-mails ({national} national digests, {count - national} "
        f"département e-mails covering {len(covered)} départements), "
        f"{len(current)} alert rows this week, {len(previous)} last week"
    )
    print(
        f"message size: median {sizes[len(sizes) // 2] / 1024:.0f} KiB, "
        f"largest {sizes[-1] / 1024:.0f} KiB (national digest with its map)"
    )
    print(f"imports (matplotlib, Airflow SMTP hook), paid once per task: {imports:.2f} s")
    print(f"render : {render_s:6.2f} s  ({render_s / count * 1000:5.1f} ms/e-mail)")
    print(
        f"  of which charts: {render_s - render_nochart_s:.2f} s "
        f"(render with charts already drawn: {render_nochart_s:.2f} s)"
    )
    print(
        f"send   : {send_s:6.2f} s  ({send_s / count * 1000:5.1f} ms/e-mail) via "
        f"{report.transport}, {len(report.sent)} sent, {received} received"
    )
    print(
        f"  baseline plain smtplib, one connection, no send log: {smtplib_s:.2f} s "
        f"-> deliver() is {send_s / smtplib_s:.1f}x"
    )
    print(
        f"total  : {total:6.2f} s  ({total / count * 1000:5.1f} ms/e-mail); with imports "
        f"{total + imports:.2f} s; target < {TARGET_S:.0f} s (without the imports, paid once "
        f"per worker process) -> {total / TARGET_S:.0%} of the target "
        f"({'OK' if total < TARGET_S else 'OVER'})"
    )
    print(
        f"re-run of the same week: {len(rerun.sent)} sent, {len(rerun.skipped)} skipped "
        f"as already sent, {rerun_s:.2f} s"
    )
    print(
        f"outbox (no SMTP), render with every chart and the map drawn + write: {outbox_s:.2f} s "
        f"({len(outbox_report.outbox_paths)} written); target < {TARGET_S:.0f} s -> "
        f"{'OK' if outbox_s < TARGET_S else 'OVER'}"
    )
    print(
        f"outbox re-run, same content: {len(outbox_again.outbox_paths)} written, "
        f"{len(outbox_again.skipped)} skipped, {outbox_rerun_s:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
