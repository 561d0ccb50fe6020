"""Running dbt in-process with the environment the profile reads.

dbt is imported when it runs, not with the module: importing it costs seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from vigie.settings import Settings


@contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """Expose the settings to dbt's ``env_var()`` for the duration of a run."""
    saved = {k: os.environ.get(k) for k in settings.dbt_env()}
    os.environ.update(settings.dbt_env())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(args: list[str], settings: Settings) -> None:
    """``dbt <args>`` through dbt's programmatic runner; raises if dbt reports a failure."""
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    options = ["--project-dir", project, "--profiles-dir", project]
    full = [*args, *options, "--target", settings.warehouse_kind]
    with dbt_environment(settings):
        result = dbtRunner().invoke(full)
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'see the log'}")
