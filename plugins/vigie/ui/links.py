"""Where Vigie's pages are: their paths in the API server and, for links from outside, their URLs.

The pages are mounted at :data:`MOUNT` in Airflow's API server. Inside the pages every link
is relative, so they work behind any ``[api] base_url``. A link from outside (an e-mail)
needs the address readers reach the server at, which the server cannot know: it is the
setting ``VIGIE_PUBLIC_URL``, e.g. ``https://airflow.example.gouv.fr/vigie/``.

Standard library and settings only: the e-mail renderer may import this module.
"""

from __future__ import annotations

from urllib.parse import quote

from vigie.reference.pilots import NATIONAL, normalise_perimetre
from vigie.settings import Settings, get_settings

MOUNT = "/vigie"  # url_prefix of the FastAPI app in the API server

# A département page's path, relative to the app's root (what follows MOUNT).
DEPARTEMENT_PATH = "departement/{code}"

# Airflow's DAG of each source, whose runs load its files (audit.file_loads.dag_run_id).
SOURCE_DAGS = {
    "prefectures": "ingest_prefecture_exports",
    "police_population": "ingest_police_population",
    "associations": "ingest_association_reports",
}


def departement_code(value: str) -> str:
    """The official code of a département (``'2a'`` -> ``'2A'``, ``'1'`` -> ``'01'``).

    Raises ``ValueError`` for anything else (``'20'``, ``'975'``, ``'national'``).
    """
    code = normalise_perimetre(value)
    if code is None or code == NATIONAL:
        raise ValueError(f"{value!r} is not the code of a département")
    return code


def departement_path(code: str) -> str:
    """The département page's path relative to the app's root: ``departement/93``."""
    return DEPARTEMENT_PATH.format(code=departement_code(code))


def public_base_url(settings: Settings | None = None) -> str | None:
    """``VIGIE_PUBLIC_URL`` (ends with ``/``), or None when unset."""
    return (settings or get_settings()).public_url


def departement_url(code: str, settings: Settings | None = None) -> str | None:
    """The absolute URL of a département's page, what an e-mail links to.

    ``departement_url("93")`` -> ``https://airflow.example.gouv.fr/vigie/departement/93`` with
    ``VIGIE_PUBLIC_URL=https://airflow.example.gouv.fr/vigie``; None when the setting is unset
    (a message then carries no link rather than a wrong one). Raises ``ValueError`` for a code
    that is no département's.
    """
    base = public_base_url(settings)
    path = departement_path(code)
    return None if base is None else base + path


def dag_run_path(dag_id: str, run_id: str) -> str:
    """A DAG run's page in Airflow's UI, relative to the UI's root (``dags/<id>/runs/<run>``)."""
    return f"dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
