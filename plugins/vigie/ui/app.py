"""Vigie's pages, a FastAPI app that Airflow's API server mounts at ``/vigie`` (the plugin).

Server-rendered HTML (Jinja2 templates in ``include/templates/ui/``), no JavaScript:

- ``/vigie/``: France, the map of the FIPD priority share by département, a year and a
  measure to choose, the départements below the target with their gap, the national totals;
- ``/vigie/alertes``: the week's ``marts.weekly_alerts`` by check, worst first, each with its
  lineage; earlier weeks to choose;
- ``/vigie/sources``: who has sent what (data engineers): last file, next one due, this
  week's quarantined files, links to the DAG runs;
- ``/vigie/departement/<code>``: one département, and nothing of any other;
- ``/vigie/fichier/<sha256>``: one received file's load report.

Every page needs a logged-in Airflow user (:mod:`vigie.ui.auth`) and reads the warehouse
read-only (:mod:`vigie.ui.readonly`); when a writer holds the DuckDB file the page says so,
with HTTP 503.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vigie.alerts.alert_rows import check_label, parse_alert_rows
from vigie.alerts.formatting import format_count, format_eur, format_share, format_target
from vigie.settings import Settings, get_settings
from vigie.ui import french, links, queries, views
from vigie.ui.auth import AccessRefused, current_user, login_url, wants_html
from vigie.ui.maps import load_shapes
from vigie.ui.readonly import WarehouseUnavailable, read_only

UNCOUNTED_LIMIT = 50
POLICE_MONTHS = 24
SECURITY_HEADERS = {
    # No script at all; styles inline; framed only by Airflow's own UI (same origin).
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" '
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M12 21s-7-5.1-7-11a7 7 0 0 1 14 0c0 5.9-7 11-7 11z"/>'
    '<circle cx="12" cy="10" r="2.5"/></svg>'
)


def templates_dir(settings: Settings) -> Path:
    return settings.include_dir / "templates" / "ui"


@cache
def environment(directory: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html", "svg.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        eur=format_eur,
        share=format_share,
        target=format_target,
        count=format_count,
        date=french.format_date,
        datetime=french.format_datetime,
        month=french.format_month,
        week=french.format_week,
        people=french.format_people,
        number=french.format_number,
        evolution=french.format_evolution,
        check_label=check_label,
        ucfirst=lambda v: str(v)[:1].upper() + str(v)[1:],
        status_label=views.status_label,
        source_label=lambda v: french.label(french.SOURCE_LABELS, v),
        kind_label=lambda v: french.label(french.KIND_LABELS, v),
        file_status=lambda v: french.label(french.STATUS_LABELS, v),
        nature_label=lambda v: french.label(french.NATURE_LABELS, v),
        plan_label=lambda v: french.label(french.PLAN_LABELS, v),
    )
    return env


def _roots(request: Request) -> tuple[str, str]:
    """(the pages' root, Airflow UI's root), as absolute paths ending with ``/``.

    The app is mounted at ``<api base path>/vigie``: its ``root_path`` says where, whatever
    ``[api] base_url`` is; Airflow's UI is at the API server's root.
    """
    root_path = str(request.scope.get("root_path", "")).rstrip("/")
    airflow_root = root_path.removesuffix(links.MOUNT) + "/"
    return root_path + "/", airflow_root


class Pages:
    """Renders the templates with what every page shares (navigation, roots, user)."""

    def __init__(self, settings: Settings | None) -> None:
        self._settings = settings

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        root, airflow_root = _roots(request)
        env = environment(str(templates_dir(self.settings)))
        html = env.get_template(template).render(
            root=root,
            airflow_root=airflow_root,
            page=context.pop("page", ""),
            user=getattr(request.state, "vigie_user_name", None),
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


def _user_name(user: Any) -> str | None:
    try:
        return str(user.get_name())
    except Exception:
        return None


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; ``settings`` for tests, else the process's settings at each request."""
    app = FastAPI(
        title="Vigie",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    pages = Pages(settings)

    async def user_dependency(request: Request) -> Any:
        user = await current_user(request)
        request.state.vigie_user_name = _user_name(user)
        return user

    router = APIRouter(dependencies=[Depends(user_dependency)])

    @router.get("/", response_class=HTMLResponse, name="france")
    def france(request: Request, annee: int | None = None, mesure: str | None = None) -> Response:
        measure = views.MEASURES.get(mesure or views.DEFAULT_MEASURE)
        if measure is None:
            raise HTTPException(404, f"Mesure inconnue : « {mesure} ».")
        with read_only(pages.settings) as reader:
            years = queries.fipd_years(reader)
            if not years:
                return pages.render(request, "vide.html.j2", page="france", what="fipd")
            if annee is None:
                annee = years[0]
            elif annee not in years:
                raise HTTPException(404, f"Aucune donnée FIPD pour l'année {annee}.")
            rows = queries.fipd_shares(reader, annee)
            names = queries.departement_names(reader)
        model = views.france_page(
            rows, years, annee, measure, load_shapes(), names, pages.settings.fipd_target
        )
        return pages.render(request, "france.html.j2", page="france", p=model)

    @router.get("/alertes", response_class=HTMLResponse, name="alertes")
    def alertes(request: Request, semaine: str | None = None) -> Response:
        with read_only(pages.settings) as reader:
            weeks = queries.alert_weeks(reader)
            if not weeks:
                return pages.render(request, "vide.html.j2", page="alertes", what="alertes")
            week = _week(semaine, weeks)
            older = [w for w in weeks if w < week]
            rows = queries.alerts(reader, week)
            previous = queries.alerts(reader, older[0]) if older else []
            names = queries.departement_names(reader)
        model = views.alerts_page(week, weeks, rows, previous, names)
        return pages.render(request, "alertes.html.j2", page="alertes", p=model)

    @router.get("/sources", response_class=HTMLResponse, name="sources")
    def sources(request: Request) -> Response:
        _, airflow_root = _roots(request)
        today = views.today_in_paris()
        with read_only(pages.settings) as reader:
            model = views.sources_page(
                today=today,
                names=queries.departement_names(reader),
                prefecture_files=queries.last_files(reader, "prefectures", today.year),
                freshness=queries.freshness(reader),
                quarantined=queries.quarantined_since(reader, views.week_start(today)),
                structures=queries.structures_by_departement(reader),
                association_files=queries.association_last_files(reader),
                api_fetches=queries.api_fetches(reader),
                police_latest_month=queries.police_latest_month(reader),
                airflow_root=airflow_root,
            )
        return pages.render(request, "sources.html.j2", page="sources", p=model)

    @router.get("/departement/{code}", response_class=HTMLResponse, name="departement")
    def departement(request: Request, code: str, annee: int | None = None) -> Response:
        try:
            code = links.departement_code(code)
        except ValueError:
            raise HTTPException(404, f"« {code} » n'est le code d'aucun département.") from None
        model = _departement_page(pages.settings, code, annee)
        return pages.render(request, "departement.html.j2", page="departement", p=model)

    @router.get("/fichier/{sha256}", response_class=HTMLResponse, name="fichier")
    def fichier(request: Request, sha256: str) -> Response:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise HTTPException(404, "Ce n'est pas l'empreinte SHA-256 d'un fichier.")
        _, airflow_root = _roots(request)
        with read_only(pages.settings) as reader:
            records, senders = queries.file_report(reader, sha256)
        if not records:
            raise HTTPException(404, "Aucun fichier reçu n'a cette empreinte.")
        model = views.file_page(sha256, records, senders, airflow_root)
        return pages.render(request, "fichier.html.j2", page="sources", p=model)

    app.include_router(router)

    @app.get("/icone.svg", include_in_schema=False)
    def icon() -> Response:
        """The navigation's icon: no data, no login needed (the menu loads it)."""
        return Response(ICON, media_type="image/svg+xml")

    _error_handlers(app, pages)
    return app


def _week(value: str | None, weeks: list[date]) -> date:
    if value is None:
        return weeks[0]
    try:
        week = date.fromisoformat(value)
    except ValueError:
        raise HTTPException(404, f"« {value} » n'est pas une date (AAAA-MM-JJ).") from None
    if week not in weeks:
        raise HTTPException(404, f"Aucun contrôle évalué pour la semaine du {week:%d/%m/%Y}.")
    return week


def _departement_page(settings: Settings, code: str, annee: int | None) -> views.DepartementPage:
    """Every query filtered on this département's code (national rows aside)."""
    with read_only(settings) as reader:
        facts = queries.departement(reader, code)
        if facts is None:
            raise HTTPException(404, f"Le département {code} n'est pas dans l'entrepôt.")
        history = queries.fipd_history(reader, code)
        years = views.year_lines(history, code)
        if annee is None:
            with_data = [y.annee for y in years if y.status != views.NO_DATA_STATUS]
            candidates = with_data or [y.annee for y in years]
            annee = candidates[0] if candidates else None
        elif annee not in {y.annee for y in years}:
            raise HTTPException(404, f"Aucune donnée FIPD pour l'année {annee}.")
        uncounted, count, amount = (
            queries.uncounted_actions(reader, code, annee, UNCOUNTED_LIMIT)
            if annee is not None
            else ([], 0, 0.0)
        )
        police_rows, police_last = queries.police_months(reader, code, POLICE_MONTHS)
        contrats, history_by_contrat = queries.contrats(reader, code)
        associations = queries.associations(reader, code)
        weeks = queries.alert_weeks(reader)
        alert_rows = queries.alerts(reader, weeks[0], code) if weeks else []
    police = views.police_blocks(police_rows, police_last, POLICE_MONTHS)
    return views.DepartementPage(
        code=code,
        nom=str(facts["nom_departement"]),
        facts=facts,
        years=years,
        chart=views.share_chart(years),
        annee=annee,
        uncounted=uncounted,
        uncounted_count=count,
        uncounted_amount=amount,
        uncounted_limit=UNCOUNTED_LIMIT,
        police=police,
        police_last=police_last,
        police_first=police[0].months[0] if police else None,
        contrats=views.contrat_lines(contrats, history_by_contrat),
        associations=views.association_periods(associations),
        suppression_threshold=settings.suppression_threshold,
        alerts=views.alert_blocks(
            parse_alert_rows(alert_rows), {code: str(facts["nom_departement"])}, prefix=""
        ),
        alerts_week=weeks[0] if weeks else None,
    )


def _error_handlers(app: FastAPI, pages: Pages) -> None:
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AccessRefused)
        if not exc.api_client and exc.login:
            return RedirectResponse(login_url(request), status_code=303)
        if not exc.api_client:
            return pages.render(request, "refus.html.j2", status_code=403, page="")
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    async def unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WarehouseUnavailable)
        if not wants_html(request):
            return JSONResponse(
                {"detail": _UNAVAILABLE_JSON[exc.reason]},
                status_code=503,
                headers={"Retry-After": "60"},
            )
        response = pages.render(
            request, "indisponible.html.j2", status_code=503, page="", reason=exc.reason
        )
        response.headers["Retry-After"] = "60"
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        # FastAPI's HTTPException, or Starlette's for an unknown path (404) or method (405).
        status_code = int(getattr(exc, "status_code", 500))
        detail = getattr(exc, "detail", "")
        if status_code == 404 and detail == "Not Found":
            detail = "Cette page n'existe pas."
        elif status_code == 405:
            detail = "Cette page ne se consulte qu'en lecture."
        if not wants_html(request):
            return JSONResponse({"detail": detail}, status_code=status_code)
        return pages.render(
            request, "erreur.html.j2", status_code=status_code, page="", detail=detail
        )

    handlers: dict[type[Exception] | int, Callable[[Request, Exception], Any]] = {
        AccessRefused: refused,
        WarehouseUnavailable: unavailable,
        HTTPException: http_error,
        404: http_error,
        405: http_error,
    }
    for exception, handler in handlers.items():
        app.add_exception_handler(exception, handler)


_UNAVAILABLE_JSON = {
    WarehouseUnavailable.BUSY: "données en cours de mise à jour, réessayez dans une minute",
    WarehouseUnavailable.MISSING: "l'entrepôt de données n'est pas encore construit",
    WarehouseUnavailable.UNREACHABLE: "l'entrepôt de données ne répond pas",
}
