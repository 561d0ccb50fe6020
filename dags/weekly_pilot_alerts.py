"""
### Weekly pilot alerts

Every Monday at 07:00 (Europe/Paris; `VIGIE_ALERTS_CRON` and `VIGIE_ALERTS_TIMEZONE` change it)
evaluates the checks of `contracts/alerts.md` into
`marts.weekly_alerts` (one row per week, check and territory, with figures and lineage), then
reads the FIPD priority share mart for the current year to date and the last closed year and
sends one e-mail per pilot: a national digest
for the comité de pilotage, and for each département's pilots only their own figures.

Sent through the `smtp_default` connection; without it the e-mails go to `VIGIE_OUTBOX_DIR`
as `.eml` files. Every attempt is logged in `audit.email_sends`: re-running a week sends
nothing already sent with the same content, a failed send fails the task after the others
went out, and the retry sends only what is missing. Trigger with `{"force_resend": true}`
to send the week again.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable
from vigie.assets import DEFAULT_ARGS, WAREHOUSE_POOL
from vigie.settings import get_settings

settings = get_settings()  # environment only: no I/O at parse time


@dag(
    dag_id="weekly_pilot_alerts",
    schedule=CronTriggerTimetable(settings.alerts_cron, timezone=settings.alerts_timezone),
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vigie", "alerts", "pilots"],
    doc_md=__doc__,
    params={"force_resend": Param(False, type="boolean", description="send the week again")},
)
def weekly_pilot_alerts() -> None:
    @task(pool=WAREHOUSE_POOL)
    def evaluate_checks() -> dict:
        """Every check of contracts/alerts.md for the week, into marts.weekly_alerts."""
        from vigie import flows

        return flows.evaluate_checks(_week_day(get_current_context()))

    @task(pool=WAREHOUSE_POOL)  # the send log is in the warehouse
    def send_pilot_emails() -> dict:
        """Render and deliver the week's e-mails; returns what was sent, skipped, failed."""
        from vigie import flows

        context = get_current_context()
        return flows.send_weekly_emails(
            _week_day(context),
            force=bool(context["params"].get("force_resend")),
            run_id=context["run_id"],
        )

    @task(pool=WAREHOUSE_POOL)
    def notify_engineers_of_quarantine() -> str | None:
        """The week's quarantined files, to the data engineers (not the pilots)."""
        from datetime import timedelta

        from vigie.notifications import quarantine_notice

        since = pendulum.instance(get_current_context()["dag_run"].run_after) - timedelta(days=7)
        return quarantine_notice(since)

    evaluate_checks() >> send_pilot_emails()
    notify_engineers_of_quarantine()


def _week_day(context) -> pendulum.Date:
    """The run's day in Paris: a Monday 07:00 run reports on the week that starts that day."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(moment).in_timezone("Europe/Paris").date()


weekly_pilot_alerts()
