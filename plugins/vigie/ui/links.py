"""Where Vigie's pages are: their paths in the API server and, for links from outside, their URLs.

The pages are mounted at :data:`MOUNT` in Airflow's API server. Inside the pages every link
is relative, so they work behind any ``[api] base_url``. A link from outside (an e-mail)
needs the address readers reach the server at, which the server cannot know: it is the
setting ``VIGIE_PUBLIC_URL``, e.g. ``https://airflow.example.gouv.fr/vigie/``.

The département page's address is :mod:`vigie.alerts.links` (the e-mails link to it).
"""

from __future__ import annotations

from urllib.parse import quote

from vigie.alerts.links import (
    DEPARTEMENT_PATH,
    departement_code,
    departement_path,
    departement_url,
    public_base_url,
)

__all__ = [
    "DEPARTEMENT_PATH",
    "MOUNT",
    "SOURCE_DAGS",
    "dag_run_path",
    "departement_code",
    "departement_path",
    "departement_url",
    "public_base_url",
]

MOUNT = "/vigie"  # url_prefix of the FastAPI app in the API server


# Airflow's DAG of each source, whose runs load its files (audit.file_loads.dag_run_id).
SOURCE_DAGS = {
    "prefectures": "ingest_prefecture_exports",
    "police_population": "ingest_police_population",
    "associations": "ingest_association_reports",
}


def dag_run_path(dag_id: str, run_id: str) -> str:
    """A DAG run's page in Airflow's UI, relative to the UI's root (``dags/<id>/runs/<run>``)."""
    return f"dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
