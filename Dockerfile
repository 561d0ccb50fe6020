# Vigie image: the project installed from the one lock file (uv.lock), as in development.
FROM python:3.11-slim-bookworm
ENV UV_PROJECT_ENVIRONMENT=/opt/vigie/.venv PATH=/opt/vigie/.venv/bin:$PATH \
    VIGIE_HOME=/opt/vigie PYTHONUNBUFFERED=1
RUN pip install --no-cache-dir uv && useradd --create-home --uid 50000 airflow
WORKDIR /opt/vigie
COPY pyproject.toml uv.lock README.md ./
COPY plugins ./plugins
RUN uv sync --frozen --no-dev
COPY . .
RUN cd dbt_project && dbt parse --quiet --project-dir . --profiles-dir . && chown -R airflow /opt/vigie
USER airflow
