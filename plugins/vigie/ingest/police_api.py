"""Client of the police-population indicators API (docs/contracts/police_population.md).

The connection is Airflow's HTTP provider's job: :class:`PoliceApiHook` (an ``HttpHook``)
reads ``vigie_police_api`` (host = base URL, password = bearer token; extras such as proxies
or ``verify`` as the provider defines them) and gives a configured ``requests`` session. The
provider's own retry (tenacity, fixed policy) cannot honour ``Retry-After`` or tell a ``401``
from a ``503``, so the paging and retry policy the contract asks for lives here: pagination to
the end, ``429`` + ``Retry-After``, bounded exponential backoff on ``5xx`` and connection
errors, a clear failure on ``401``/``403`` and on a body of the wrong shape.

The token lives only in the session's ``Authorization`` header: it is not part of any URL,
message, ``repr`` or log line (``ApiConfig`` hides it from its ``repr``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import requests

from vigie.contracts.police_population import FIELDS, FORCES, MOIS_PATTERN

log = logging.getLogger(__name__)

CONN_ID = "vigie_police_api"
ENDPOINT = "/v1/indicateurs"
REVISION_MONTHS = 3  # months re-fetched to catch revisions (contract)


class PoliceApiError(RuntimeError):
    """The API could not be read; the message says what to do, never shows the token."""


class PoliceApiAuthError(PoliceApiError):
    """``401``/``403``: the credentials of the connection are wrong or expired."""


class PoliceApiShapeError(PoliceApiError):
    """A ``200`` whose body is not the contract's shape (truncated JSON, missing keys...)."""


@dataclass(frozen=True)
class ApiConfig:
    """Where and how to call the API. ``sleep`` is injectable so tests do not really wait."""

    base_url: str
    token: str = field(repr=False)
    page_size: int = 1000
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0
    timeout: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    # The HTTP hook's session when the config comes from the Airflow connection.
    session_factory: Callable[[], requests.Session] | None = field(
        default=None, repr=False, compare=False
    )


@dataclass
class Page:
    """One page as received, with its lineage (URL without token, page number, fetch time)."""

    number: int
    pages: int
    total: int
    url: str
    fetched_at: datetime
    rows: list[dict[str, Any]]
    body_size: int = 0


def _http_hook_class() -> type:
    """``PoliceApiHook``, built on first use: importing the provider costs time at parse."""
    from airflow.providers.http.hooks.http import HttpHook

    class PoliceApiHook(HttpHook):
        """The HTTP provider's hook for ``vigie_police_api``, with the bearer token.

        The token goes in the ``Authorization`` header of the session; any basic auth the
        provider would derive from a login is dropped, so a login in the connection cannot
        turn the token into a password sent in clear base64.
        """

        conn_name_attr = "http_conn_id"
        default_conn_name = CONN_ID
        conn_type = "http"
        hook_name = "Vigie police-population API"

        def __init__(self, http_conn_id: str = CONN_ID) -> None:
            super().__init__(method="GET", http_conn_id=http_conn_id)

        def token(self) -> str:
            password = self.get_connection(self.http_conn_id).password
            if not password:
                raise PoliceApiError(
                    f"connection {self.http_conn_id!r} has no password (the API's bearer token)"
                )
            return password

        def get_conn(
            self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
        ) -> requests.Session:
            session = super().get_conn(headers, extra_options)
            session.auth = None
            session.headers["Authorization"] = f"Bearer {self.token()}"
            session.headers["Accept"] = "application/json"
            return session

    return PoliceApiHook


def config_from_connection(conn_id: str = CONN_ID, **overrides: Any) -> ApiConfig | None:
    """The client configuration from the Airflow connection, or None if it is not defined.

    None (not an error) because a deployment without the API runs on the CSV fallback.
    Called inside tasks only: connections are never read at DAG parse time.
    """
    from airflow.sdk.exceptions import AirflowNotFoundException

    hook = _http_hook_class()(conn_id)
    try:
        conn = hook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    token = hook.token()
    hook.get_conn().close()  # resolves the base URL the provider's way (host, schema, port)
    extra = conn.extra_dejson or {}
    # Extras given in a connection URI's query are strings: typed here, as ApiConfig wants.
    types: dict[str, type] = {"page_size": int, "max_retries": int, "timeout": float}
    settings: dict[str, Any] = {k: cast(extra[k]) for k, cast in types.items() if k in extra}
    settings.update(overrides)
    return ApiConfig(
        base_url=hook.base_url.rstrip("/"), token=token, session_factory=hook.get_conn, **settings
    )


def _month(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def _shift(month: str, delta: int) -> str:
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def incremental_window(latest_loaded: str | None, today: date) -> tuple[str | None, str]:
    """``(depuis, jusqua)`` for the next fetch, from the latest month the warehouse holds.

    Nothing loaded yet: everything (``depuis`` None). Otherwise from the earlier of the latest
    month held (it may be incomplete: publication is per département) and the current month
    minus :data:`REVISION_MONTHS` (revisions), up to the current month.
    """
    current = _month(today)
    if latest_loaded is None:
        return None, current
    depuis = min(latest_loaded, _shift(current, -REVISION_MONTHS))
    return depuis, current


def _retry_after(value: str | None, fallback: float) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return fallback
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return fallback
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _check_row(row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise PoliceApiShapeError(f"{where}: an element of 'donnees' is not an object")
    missing = [name for name in FIELDS if name not in row]
    if missing:
        raise PoliceApiShapeError(f"{where}: a row lacks {', '.join(missing)}")
    for name in ("code_departement", "mois", "force", "indicateur", "publie_le"):
        if not isinstance(row[name], str) or not row[name]:
            raise PoliceApiShapeError(f"{where}: {name}={row[name]!r} is not a non-empty string")
    value = row["valeur"]
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or value < 0
    ):
        raise PoliceApiShapeError(f"{where}: valeur={value!r} is not a number >= 0 nor null")
    if row["force"] not in FORCES:
        raise PoliceApiShapeError(f"{where}: force={row['force']!r} is not PN or GN")
    if not MOIS_PATTERN.fullmatch(row["mois"]):
        raise PoliceApiShapeError(f"{where}: mois={row['mois']!r} is not YYYY-MM")
    return row


def parse_page(body: bytes, url: str, expected_page: int) -> tuple[int, int, list[dict]]:
    """``(pages, total, rows)`` of a page body, or :class:`PoliceApiShapeError` saying why."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoliceApiShapeError(
            f"{url}: the body is not valid JSON ({exc}; {len(body)} bytes received): "
            "truncated or not the indicators API"
        ) from exc
    if not isinstance(payload, dict):
        raise PoliceApiShapeError(f"{url}: the body is not a JSON object")
    missing = [k for k in ("page", "pages", "total", "donnees") if k not in payload]
    if missing:
        raise PoliceApiShapeError(f"{url}: the body lacks {', '.join(missing)}")
    page, pages, total, rows = (payload[k] for k in ("page", "pages", "total", "donnees"))
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (page, pages, total)):
        raise PoliceApiShapeError(f"{url}: page, pages and total must be integers")
    if not isinstance(rows, list):
        raise PoliceApiShapeError(f"{url}: 'donnees' is not a list")
    if page != expected_page:
        raise PoliceApiShapeError(f"{url}: asked for page {expected_page}, got page {page}")
    return pages, total, [_check_row(row, url) for row in rows]


class PoliceApiClient:
    """Reads every page of a window; one ``requests.Session`` (keep-alive) per client."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self._session = config.session_factory() if config.session_factory else requests.Session()
        self._session.headers["Authorization"] = f"Bearer {config.token}"
        self._session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PoliceApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, depuis: str | None, jusqua: str | None, page: int) -> str:
        """The request URL (no credentials in it: the token travels in a header)."""
        params: dict[str, Any] = {}
        if depuis:
            params["depuis"] = depuis
        if jusqua:
            params["jusqua"] = jusqua
        params.update(page=page, taille=self.config.page_size)
        return f"{self.config.base_url}{ENDPOINT}?{urlencode(params)}"

    def _get(self, url: str) -> requests.Response:
        """One GET with the contract's retry policy; returns a 200 response."""
        cfg = self.config
        attempt = 0
        while True:
            try:
                response = self._session.get(url, timeout=cfg.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem, wait = f"connection error ({type(exc).__name__})", None
            else:
                status = response.status_code
                if status == 200:
                    return response
                if status in (401, 403):
                    raise PoliceApiAuthError(
                        f"{url}: HTTP {status}, the API refused the credentials: check the "
                        f"password (bearer token) of the Airflow connection {CONN_ID!r}"
                    )
                if status == 429:
                    fallback = min(cfg.backoff_max, cfg.backoff_base * 2**attempt)
                    wait = min(
                        _retry_after(response.headers.get("Retry-After"), fallback),
                        cfg.max_retry_after,
                    )
                    problem = "HTTP 429 (rate limited)"
                elif status >= 500:
                    problem, wait = f"HTTP {status}", None
                else:
                    raise PoliceApiError(f"{url}: HTTP {status} {response.text[:200]!r}")
            if attempt >= cfg.max_retries:
                raise PoliceApiError(f"{url}: {problem}, gave up after {attempt + 1} attempts")
            if wait is None:
                wait = min(cfg.backoff_max, cfg.backoff_base * 2**attempt)
            log.warning(
                "%s: %s, retry %d/%d in %.1fs", url, problem, attempt + 1, cfg.max_retries, wait
            )
            cfg.sleep(wait)
            attempt += 1

    def iter_pages(self, depuis: str | None = None, jusqua: str | None = None) -> Iterator[Page]:
        """Every page of the window, first to last, following ``pages`` as it is reported."""
        number, pages = 1, 1
        while number <= pages:
            url = self.url(depuis, jusqua, number)
            response = self._get(url)
            body = response.content
            pages, total, rows = parse_page(body, url, number)
            yield Page(number, pages, total, url, datetime.now(UTC), rows, len(body))
            number += 1

    def fetch(self, depuis: str | None = None, jusqua: str | None = None) -> list[Page]:
        """All pages of the window in memory: loading starts only once the fetch is whole."""
        pages = list(self.iter_pages(depuis, jusqua))
        log.info(
            "fetched %d page(s), %d row(s) (depuis=%s jusqua=%s)",
            len(pages),
            sum(len(p.rows) for p in pages),
            depuis,
            jusqua,
        )
        return pages
