"""The pre-commit hooks run what `make lint` runs, so a commit meets CI's lint before it lands."""

from __future__ import annotations

import re

import yaml
from vigie.settings import SOURCE_TREE_ROOT


def _make_lint_tools() -> set[str]:
    makefile = (SOURCE_TREE_ROOT / "Makefile").read_text()
    body = re.search(r"^lint:.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert body, "a lint target"
    return set(re.findall(r"\$\(RUN\) (\S+)", body.group(1)))


def test_pre_commit_runs_every_tool_of_make_lint() -> None:
    config = yaml.safe_load((SOURCE_TREE_ROOT / ".pre-commit-config.yaml").read_text())
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    hooked = {entry.split("uv run --frozen ", 1)[1].split()[0] for entry in entries}
    tools = _make_lint_tools()
    assert tools >= {"ruff", "lint-imports", "mypy", "deptry", "sqlfluff"}
    assert tools <= hooked, f"make lint runs {sorted(tools - hooked)} that no hook runs"
