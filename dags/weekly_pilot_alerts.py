"""
### Weekly pilot alerts

Every Monday at 07:00 (Europe/Paris) reads the FIPD priority share mart for the current
year to date and the last closed year and writes one e-mail per pilot: a national digest
for the comité de pilotage, and for each département's pilots only their own figures.
With no `smtp_default` connection the e-mails go to `VIGIE_OUTBOX_DIR` as `.eml` files.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable
from vigie.assets import DEFAULT_ARGS


@dag(
    dag_id="weekly_pilot_alerts",
    schedule=CronTriggerTimetable("0 7 * * 1", timezone="Europe/Paris"),
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vigie", "alerts", "pilots"],
    doc_md=__doc__,
)
def weekly_pilot_alerts() -> None:
    @task
    def write_pilot_emails() -> list[str]:
        """Render and write the week's e-mails; returns where they went."""
        from vigie import flows

        context = get_current_context()
        moment = context.get("logical_date") or context["dag_run"].run_after
        day = pendulum.instance(moment).in_timezone("Europe/Paris").date()
        return [str(path) for path in flows.write_weekly_emails(day)]

    write_pilot_emails()


weekly_pilot_alerts()
