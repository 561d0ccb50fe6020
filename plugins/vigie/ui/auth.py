"""Only people logged into Airflow see the pages: the request's Airflow JWT, checked by Airflow.

A plugin's FastAPI app is mounted in the API server without any protection of its own, so
every page depends on :func:`current_user`. The token is the one Airflow's UI keeps in its
``_token`` cookie, or an API client's ``Authorization: Bearer`` header (which wins, as in
Airflow's own ``get_user``). It is validated by Airflow's auth manager, through the same
function as Airflow's REST API (``resolve_user_from_token``): signature, expiry, audience,
revocation. The user must then be allowed to see Airflow's website (``AccessView.WEBSITE``),
which any role of any auth manager that can open the UI is.

Refused: an API client gets 401 (no token, expired token) or 403 (invalid or forged token,
or not allowed) as JSON; a browser is sent to Airflow's login page, which brings it back.
Airflow is imported only when a request arrives: importing this module stays cheap.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request


class AccessRefused(Exception):
    """The request has no valid Airflow token, or its user may not see the pages."""

    def __init__(self, status_code: int, detail: str, *, api_client: bool, login: bool) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.api_client = api_client  # it sent a Bearer token: answer in JSON, never redirect
        self.login = login  # logging in again would help (no, expired or invalid token)


def bearer_token(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def wants_html(request: Request) -> bool:
    """A browser's navigation (it accepts HTML and sent no Bearer token)."""
    return bearer_token(request) is None and "text/html" in request.headers.get("accept", "")


async def current_user(request: Request) -> Any:
    """FastAPI dependency: the Airflow user of the request, or :class:`AccessRefused`."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    bearer = bearer_token(request)
    token = bearer or request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    api_client = bearer is not None or not wants_html(request)
    try:
        user = await resolve_user_from_token(token)
    except HTTPException as exc:  # 401 no token or expired, 403 invalid signature or claims
        raise AccessRefused(
            exc.status_code, str(exc.detail), api_client=api_client, login=True
        ) from exc
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise AccessRefused(403, "Forbidden", api_client=api_client, login=False)
    return user


def login_url(request: Request) -> str:
    """Airflow's login page, coming back to the page asked for."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=str(request.url))
