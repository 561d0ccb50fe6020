"""
### Weekly pilot alerts

Every Monday at 07:00 (Europe/Paris; `VIGIE_ALERTS_CRON` and `VIGIE_ALERTS_TIMEZONE` change it)
evaluates the checks of `docs/alerts.md` into
`marts.weekly_alerts` (one row per week, check and territory, with figures and lineage), then
reads the FIPD priority share mart for the current year to date and the last closed year and
sends one e-mail per pilot: a national digest
for the comité de pilotage, and for each département's pilots only their own figures.

Sent through the `smtp_default` connection; without it the e-mails go to `VIGIE_OUTBOX_DIR`
as `.eml` files. Every attempt is logged in `audit.email_sends`: re-running a week sends
nothing already sent with the same content, a failed send fails the task after the others
went out, and the retry sends only what is missing. Trigger with `{"force_resend": true}`
to send the week again.

`check_source_freshness` runs `dbt source freshness` against the rules of the dbt sources
(a FIPD export within 45 days...) and shows the result in `marts.data_freshness`: a source
that stopped sending triggers no warehouse build, so Monday is when it gets noticed. A stale
source is logged, never a failure.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable
from vigie import tasks
from vigie.orchestration.defaults import DAG_DEFAULTS, WAREHOUSE_POOL
from vigie.settings import get_settings

settings = get_settings()  # environment only: no I/O at parse time


@dag(
    dag_id="weekly_pilot_alerts",
    description="Monday checks into marts.weekly_alerts and one e-mail per pilot",
    schedule=CronTriggerTimetable(settings.alerts_cron, timezone=settings.alerts_timezone),
    tags=["vigie", "alerts", "pilots"],
    doc_md=__doc__,
    params={"force_resend": Param(False, type="boolean", description="send the week again")},
    **(DAG_DEFAULTS | {"start_date": pendulum.datetime(2026, 1, 5, tz="Europe/Paris")}),
)
def weekly_pilot_alerts() -> None:
    @task(pool=WAREHOUSE_POOL)
    def evaluate_checks() -> dict:
        """Every weekly check for the run's week, into marts.weekly_alerts."""
        return tasks.evaluate_week_checks(get_current_context())

    @task(pool=WAREHOUSE_POOL)  # the send log is in the warehouse
    def send_pilot_emails() -> dict:
        """Render and deliver the week's e-mails; returns what was sent, skipped, failed."""
        return tasks.send_week_emails(get_current_context())

    @task(pool=WAREHOUSE_POOL)
    def notify_engineers_of_quarantine() -> str | None:
        """The week's quarantined files, to the data engineers (not the pilots)."""
        return tasks.notify_week_quarantine(get_current_context())

    @task(pool=WAREHOUSE_POOL)  # dbt writes audit.source_freshness and marts.data_freshness
    def check_source_freshness() -> dict:
        """dbt source freshness into marts.data_freshness; a stale source is only logged."""
        return tasks.check_source_freshness()

    evaluate_checks() >> send_pilot_emails()
    notify_engineers_of_quarantine()
    check_source_freshness()


weekly_pilot_alerts()
