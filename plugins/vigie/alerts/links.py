"""Where a département's page is, for links from outside Vigie's pages (the e-mails).

The pages are served in Airflow's API server (:mod:`vigie.ui`); a link from an e-mail needs
the address readers reach that server at, which the server cannot know: the setting
``VIGIE_PUBLIC_URL``, e.g. ``https://airflow.example.gouv.fr/vigie/``. Here, in the alerts
layer, so the e-mail renderer can use it; the pages use the same functions.
"""

from __future__ import annotations

from vigie.reference.pilots import NATIONAL, normalise_perimetre
from vigie.settings import Settings, get_settings

# A département page's path, relative to the pages' root.
DEPARTEMENT_PATH = "departement/{code}"


def departement_code(value: str) -> str:
    """The official code of a département (``'2a'`` -> ``'2A'``, ``'1'`` -> ``'01'``).

    Raises ``ValueError`` for anything else (``'20'``, ``'975'``, ``'national'``).
    """
    code = normalise_perimetre(value)
    if code is None or code == NATIONAL:
        raise ValueError(f"{value!r} is not the code of a département")
    return code


def departement_path(code: str) -> str:
    """The département page's path relative to the pages' root: ``departement/93``."""
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
