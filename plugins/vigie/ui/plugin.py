"""The Airflow plugin: Vigie's pages in the API server, and their entry in the UI's navigation.

Registered as the entry point ``airflow.plugins: vigie = vigie.ui.plugin:VigiePlugin``
(pyproject.toml), so every Airflow process that loads plugins imports this module: it stays
cheap. The FastAPI app (and with it Jinja2 and the warehouse code) is built the first time
the API server asks for ``fastapi_apps``, never in a scheduler, worker or DAG processor, and
nothing here opens the warehouse.

Airflow 3.1+ interface: ``fastapi_apps`` mounts the app at ``/vigie`` in the API server;
``external_views`` adds "Vigie" to the navigation, shown inside Airflow's UI (``url_route``:
``/plugin/vigie``) in a frame of the same origin, so the UI's ``_token`` cookie comes along.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from vigie.ui.links import MOUNT


def _api_root() -> str:
    """The API server's base path (``[api] base_url``'s path), ending with ``/``."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    path = urlsplit(conf.get("api", "base_url", fallback="") or "").path
    return path.rstrip("/") + "/"


class VigiePlugin(AirflowPlugin):
    """Vigie: the FIPD map, the week's alerts, who has sent what, each département."""

    name = "vigie"

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from vigie.ui.app import create_app

        if not hasattr(self, "_apps"):
            self._apps = [{"app": create_app(), "url_prefix": MOUNT, "name": "Vigie"}]
        return self._apps

    @property
    def external_views(self) -> list[dict[str, Any]]:  # type: ignore[override]
        if not hasattr(self, "_views"):
            root = _api_root()
            self._views = [
                {
                    "name": "Vigie",
                    "href": f"{root}{MOUNT.strip('/')}/",
                    "icon": f"{root}{MOUNT.strip('/')}/icone.svg",
                    "url_route": "vigie",
                    "destination": "nav",
                    "nav_top_level": True,
                }
            ]
        return self._views
