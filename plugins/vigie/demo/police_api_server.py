"""A local stand-in for the police-population indicators API: a TEST AND DEMO FIXTURE ONLY.

It ships in the package so that ``make demo`` (``vigie run --serve-sample-api``) can serve the
sample through the real client path; no DAG or production code path imports it.

Why: the client must be exercised over real HTTP (sockets, status codes, headers, keep-alive),
not against mocks. This server speaks docs/contracts/police_population.md over a DataFrame of
indicators (``GET /v1/indicateurs?depuis&jusqua&page&taille``, bearer token, ``401`` otherwise)
on 127.0.0.1, and can be told to misbehave the way real APIs do: ``n`` x ``503`` then OK,
``429`` with ``Retry-After``, a truncated body, content that changes between two fetches
(:meth:`PoliceApiServer.set_frame`).

In tests::

    with PoliceApiServer(frame, token="t") as server:
        server.add_fault(Fault(status=503), times=2)
        ... ApiConfig(base_url=server.url, token="t") ...

Standalone (the demo)::

    uv run python -m vigie.demo.police_api_server --port 8765 --seed 42
    export AIRFLOW_CONN_VIGIE_POLICE_API='http://:vigie-demo-token@127.0.0.1:8765'
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import sys
import threading
from collections import deque
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vigie.contracts.police_population import FORCES, INDICATORS
from vigie.demo.sample_police import SERVING_ORDER, generate_indicators

ENDPOINT = "/v1/indicateurs"
DEMO_TOKEN = "vigie-demo-token"
MAX_PAGE_SIZE = 5000
COLUMNS = ["code_departement", "mois", "force", "indicateur", "valeur", "publie_le"]


@dataclass(frozen=True)
class Fault:
    """What to do instead of answering normally, for one request.

    ``status`` alone: that status with a small JSON error body (``retry_after`` adds the
    header, for ``429``). ``truncate``: a ``200`` whose JSON body is cut at that fraction
    (with a matching Content-Length, so it is a complete HTTP response with broken JSON).
    ``body``: a ``200`` with exactly these bytes (a body of the wrong shape).
    ``page``: only requests for that page number trigger it (None: any request).
    """

    status: int | None = None
    retry_after: str | None = None
    truncate: float | None = None
    body: bytes | None = None
    page: int | None = None


def small_frame(
    departements: tuple[str, ...] = ("93", "2A", "971"),
    months: tuple[str, ...] = ("2025-01", "2025-02", "2025-03", "2025-04"),
    indicators: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """A few hundred contract rows with distinct, predictable values (tests' data)."""
    rows = []
    for d, code in enumerate(departements):
        for f, force in enumerate(FORCES):
            for i, indicator in enumerate(indicators or INDICATORS):
                for m, mois in enumerate(months):
                    year, month = int(mois[:4]), int(mois[5:7])
                    published = f"{year + month // 12:04d}-{month % 12 + 1:02d}-12T09:00:00+02:00"
                    value = (
                        None
                        if (d, f, i, m) == (0, 0, 0, len(months) - 1)
                        else (1000 * d + 100 * f + 10 * i + m)
                    )
                    rows.append((code, mois, force, indicator, value, published))
    frame = pd.DataFrame(
        rows, columns=["code_departement", "mois", "force", "indicateur", "valeur", "publie_le"]
    )
    frame["valeur"] = frame["valeur"].astype("Int64")
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Frame -> JSON-ready rows in serving order (valeur a number or null)."""
    rows = frame[COLUMNS].sort_values(SERVING_ORDER, kind="stable")
    out = []
    for code, mois, force, indicateur, valeur, publie_le in rows.itertuples(index=False):
        if valeur is None or valeur is pd.NA or (isinstance(valeur, float) and math.isnan(valeur)):
            value: Any = None
        else:
            value = int(valeur) if float(valeur).is_integer() else float(valeur)
        out.append(
            {
                "code_departement": str(code),
                "mois": str(mois),
                "force": str(force),
                "indicateur": str(indicateur),
                "valeur": value,
                "publie_le": str(publie_le),
            }
        )
    return out


class ParquetIndicators:
    """Indicators served from a Parquet file sorted in serving order, a few row groups in memory.

    Why: at the benchmarks' largest scale the API holds 17 million rows; as Python dicts that
    is tens of gigabytes. The file (written by
    :func:`vigie.demo.sample_police.write_indicators_parquet`, sorted by :data:`SERVING_ORDER`)
    keeps a window's rows contiguous, so a page is a slice of one or two row groups, decoded
    when asked and kept for the next page (pages are read in order).
    """

    def __init__(self, path: str) -> None:
        self._file = pq.ParquetFile(path)
        meta = self._file.metadata
        self._group_starts = [0]
        for index in range(meta.num_row_groups):
            self._group_starts.append(self._group_starts[-1] + meta.row_group(index).num_rows)
        counts = pc.value_counts(self._file.read(columns=["mois"]).column("mois")).to_pylist()
        counts.sort(key=lambda c: c["values"])
        self._months = [c["values"] for c in counts]
        self._month_starts = [0, *itertools.accumulate(c["counts"] for c in counts)]
        self._cache: dict[int, list[dict[str, Any]]] = {}

    def _bounds(self, depuis: str, jusqua: str) -> tuple[int, int]:
        first = bisect.bisect_left(self._months, depuis)
        last = bisect.bisect_right(self._months, jusqua)
        return self._month_starts[first], self._month_starts[last]

    def count(self, depuis: str, jusqua: str) -> int:
        start, stop = self._bounds(depuis, jusqua)
        return stop - start

    def _group(self, index: int) -> list[dict[str, Any]]:
        if index not in self._cache:
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            # Arrow's own conversion: the file's types are already the JSON's (int64 or null).
            self._cache[index] = self._file.read_row_group(index, columns=COLUMNS).to_pylist()
        return self._cache[index]

    def rows(self, depuis: str, jusqua: str, offset: int, limit: int) -> list[dict[str, Any]]:
        """``limit`` rows of the window from its ``offset``-th (the window's own order)."""
        start, stop = self._bounds(depuis, jusqua)
        first, last = start + offset, min(start + offset + limit, stop)
        out: list[dict[str, Any]] = []
        position = first
        while position < last:
            index = bisect.bisect_right(self._group_starts, position) - 1
            group = self._group(index)
            base = self._group_starts[index]
            end = min(last, self._group_starts[index + 1])
            out.extend(group[position - base : end - base])
            position = end
        return out


class _FrameIndicators:
    """Indicators of an in-memory frame (tests, demo): each window's rows cached as dicts."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._rows = _records(frame)
        self._windows: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def window(self, depuis: str, jusqua: str) -> list[dict[str, Any]]:
        key = (depuis, jusqua)
        if key not in self._windows:
            self._windows[key] = [r for r in self._rows if depuis <= r["mois"] <= jusqua]
        return self._windows[key]

    def count(self, depuis: str, jusqua: str) -> int:
        return len(self.window(depuis, jusqua))

    def rows(self, depuis: str, jusqua: str, offset: int, limit: int) -> list[dict[str, Any]]:
        return self.window(depuis, jusqua)[offset : offset + limit]


class PoliceApiServer:
    """Threaded HTTP server on 127.0.0.1 (port 0: a free port) serving indicators: a frame,
    or a :class:`ParquetIndicators` (memory bounded whatever the number of rows)."""

    def __init__(
        self, frame: pd.DataFrame | ParquetIndicators, token: str = DEMO_TOKEN, port: int = 0
    ) -> None:
        self.token = token
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self.requests: list[tuple[str, int]] = []  # (path?query, status) of every request
        self.set_frame(frame)
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the API (what the connection's host names)."""
        return f"http://127.0.0.1:{self.port}"

    def set_frame(self, frame: pd.DataFrame | ParquetIndicators) -> None:
        """Serve other content from now on (a revision published between two fetches)."""
        source = frame if isinstance(frame, ParquetIndicators) else _FrameIndicators(frame)
        with self._lock:
            self._source = source

    def add_fault(self, fault: Fault, times: int = 1) -> None:
        """Misbehave on the next ``times`` matching requests."""
        with self._lock:
            self._faults.extend([fault] * times)

    def take_fault(self, page: int) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.page is None or fault.page == page:
                    del self._faults[index]
                    return fault
        return None

    def window(self, depuis: str, jusqua: str) -> int:
        """How many rows have ``mois`` in ``[depuis, jusqua]`` (prepares the window's pages)."""
        with self._lock:
            return self._source.count(depuis, jusqua)

    def page(self, depuis: str, jusqua: str, page: int, size: int) -> tuple[int, list[dict]]:
        """The window's row count and the rows of its ``page``-th page of ``size`` rows."""
        with self._lock:
            total = self._source.count(depuis, jusqua)
            return total, self._source.rows(depuis, jusqua, (page - 1) * size, size)

    def start(self) -> PoliceApiServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (shutdown() would wait forever if never started)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> PoliceApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    api: PoliceApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API behind a proxy

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        # Recorded before answering: once the client has the response, the test may look.
        self.api.requests.append((self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"erreur": message}).encode(), headers)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") != ENDPOINT:
            self._error(404, "not found")
            return
        if self.headers.get("Authorization") != f"Bearer {self.api.token}":
            self._error(401, "jeton invalide", {"WWW-Authenticate": "Bearer"})
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            page = int(query.get("page", "1"))
            size = int(query.get("taille", "1000"))
        except ValueError:
            self._error(400, "page et taille sont des entiers")
            return
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            self._error(400, f"page >= 1, 1 <= taille <= {MAX_PAGE_SIZE}")
            return
        fault = self.api.take_fault(page)
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            self._error(fault.status, "indisponible", headers)
            return
        if fault is not None and fault.body is not None:
            self._send(200, fault.body)
            return
        total, rows = self.api.page(
            query.get("depuis", "0000-00"), query.get("jusqua", "9999-99"), page, size
        )
        body = json.dumps(
            {"page": page, "pages": math.ceil(total / size), "total": total, "donnees": rows},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        if fault is not None and fault.truncate is not None:
            body = body[: int(len(body) * fault.truncate)]
        self._send(200, body)


def main(argv: list[str] | None = None) -> int:
    """Serve the deterministic sample (vigie.demo.sample_police) until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--token", default=DEMO_TOKEN)
    parser.add_argument("--until", type=date.fromisoformat, default=date.today())
    args = parser.parse_args(argv)
    frame = generate_indicators(args.seed, args.until)
    server = PoliceApiServer(frame, token=args.token, port=args.port)
    print(
        f"police-population API (test/demo fixture) on {server.url}{ENDPOINT}: "
        f"{len(frame)} rows; connection: "
        f"AIRFLOW_CONN_VIGIE_POLICE_API='http://:<token>@127.0.0.1:{server.port}'",
        flush=True,
    )
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
