"""Rendering and sending a week's pilot e-mails (national + 101 départements) to local SMTP.

    uv run python bench/bench_alerts.py [--seed 7]

A realistic week for every département: FIPD share rows (current and closed year, some
départements without data), and ``marts.weekly_alerts`` rows for this week and the week before
for every check (FIPD share with its 3 largest uncounted actions, exports, police indicators
per force, contrats de ville, association reports). Recipients: the shipped pilots directory
``include/config/pilots.example.csv`` (all 101 départements, some with two addresses, two
national pilots). The e-mails go through the real path, ``vigie.alerts.sending.deliver``
(Airflow's SMTP hook, the send log on a scratch DuckDB), to an aiosmtpd server on 127.0.0.1
(tests/smtp_sink.py). Target (issue 7): the week's e-mails in under 30 s.

Baselines in the same run: the same messages sent with plain ``smtplib`` on one connection (no
hook, no send log), and the same week rendered again once its charts are drawn (what the
charts cost). Then a re-run of the week, which must send nothing.

A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import smtplib
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

TARGET_S = 30.0
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


def _alert(week, check, kind, code, period, dep, status, message, figures, lineage) -> dict:
    return {
        "week_start": week,
        "check_name": check,
        "territory_kind": kind,
        "territory_code": code,
        "period": period,
        "code_departement": dep,
        "status": status,
        "message": message,
        "figures": json.dumps(figures, ensure_ascii=False),
        "lineage": json.dumps(lineage, ensure_ascii=False),
    }


def _alert_rows(rng: random.Random, week: date, shares: list[dict], codes: dict) -> list[dict]:
    """Every check's rows for one week, shaped like vigie.alerts.checks writes them."""
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
            f"{share.get('share_located') or 0:.3f}. Plus grosses actions non comptées : "
            + "; ".join(f"{t['numero_dossier']} ({t['porteur']})" for t in top)
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
            _alert(
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
            _alert(
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
            indicators = [
                {
                    "indicateur": "signalements_plateforme",
                    "valeur": 80,
                    "valeur_annee_precedente": 100,
                    "evolution": evolution,
                }
            ]
            rows.append(
                _alert(
                    week,
                    "police_indicator_drop",
                    "departement_force",
                    f"{code}-{force}",
                    "2026-10",
                    code,
                    status,
                    f"{nom} ({code}), {force} : évolution {evolution:+.1%}.",
                    {"indicators": indicators if status == "alert" else []},
                    [{"source": "api", "page": 1}],
                )
            )
        for number in range(rng.randint(1, 4)):
            plan = rng.choice(["oui", "oui", "en_cours", "non"])
            rows.append(
                _alert(
                    week,
                    "part_annex_missing",
                    "contrat_de_ville",
                    f"CV-{code}-{number}",
                    "2026",
                    code,
                    "alert" if plan == "non" else "ok",
                    f"Contrat de ville n° {number} ({code}) : annexe {plan}.",
                    {"plan_radicalisation": plan},
                    [],
                )
            )
        if rng.random() < 0.3:
            rows.append(
                _alert(
                    week,
                    "association_report_missing",
                    "structure",
                    f"STRUCT-{code}",
                    "2026-S1",
                    code,
                    "alert",
                    f"Structure de {nom} ({code}) : pas de bilan pour 2026-S1.",
                    {"days_late": rng.randint(1, 120)},
                    [],
                )
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
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
        current = _alert_rows(rng, WEEK, shares, DEPARTEMENTS)
        previous = _alert_rows(rng, WEEK - timedelta(days=7), shares, DEPARTEMENTS)

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

    count = len(messages)
    national = sum(1 for m in messages if m["X-Vigie-Perimetre"] == "national")
    covered = {c for m in messages for c in str(m["X-Vigie-Perimetre"]).split(",")} - {"national"}
    sizes = sorted(len(m.as_bytes()) for m in messages)
    total = render_s + send_s
    print(
        f"week {WEEK}: {count} e-mails ({national} national digests, {count - national} "
        f"département e-mails covering {len(covered)} départements), "
        f"{len(current)} alert rows this week, {len(previous)} last week"
    )
    print(
        f"message size: median {sizes[len(sizes) // 2] / 1024:.0f} KiB, "
        f"largest {sizes[-1] / 1024:.0f} KiB (national digest with its chart)"
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
        f"{total + imports:.2f} s; target < {TARGET_S:.0f} s -> "
        f"{(total + imports) / TARGET_S:.0%} of the target "
        f"({'OK' if total + imports < TARGET_S else 'OVER'})"
    )
    print(
        f"re-run of the same week: {len(rerun.sent)} sent, {len(rerun.skipped)} skipped "
        f"as already sent, {rerun_s:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
