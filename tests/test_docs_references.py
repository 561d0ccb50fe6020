"""A clone holds every document and file its code and documents cite.

The specifications used to live outside the repository; every reference now points into
``docs/``. This test reads every tracked text file and fails on a cited path that the
repository does not hold, or on a specification cited by its old name, outside ``docs/``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from vigie.settings import SOURCE_TREE_ROOT

ROOT = Path(SOURCE_TREE_ROOT)
# A repository path: a top-level folder, then path characters, then a file extension.
CITED = re.compile(
    r"(?<![\w./-])((?:docs|dags|plugins|dbt_project|include|tests|bench|\.ci)/[\w./-]*?"
    r"\.(?:md|py|yml|yaml|sql|json|csv|txt|toml|png|cfg|ini|html|j2|xlsx))(?![\w/-])"
)
# What the old out-of-tree specifications were called: only valid under docs/.
SPEC = re.compile(r"(?<![\w./-])(contracts/[\w-]+\.md|domain\.md|stack-facts\.md)")
# Written by a run, not committed.
GENERATED = ("dbt_project/target/", "dbt_project/logs/", "bench/results/")
TEXT = {".py", ".md", ".yml", ".yaml", ".sql", ".toml", ".cfg", ".txt", ".json", ".j2", ".html"}


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    names = [n for n in listed if not n.startswith("bench/results/") and n != "uv.lock"]
    return [ROOT / n for n in names if Path(n).suffix in TEXT or Path(n).name == "Makefile"]


def _ignored_by_git(path: str) -> bool:
    """A path ``.gitignore`` keeps out (a per-machine file, say): citing it is no dangling link."""
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


def test_every_cited_path_exists_in_the_repository() -> None:
    missing = []
    for path in _tracked_text_files():
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for cited in CITED.findall(line):
                if cited.startswith(GENERATED) or (ROOT / cited).exists():
                    continue
                if (path.parent / cited).exists():  # a link relative to the citing file
                    continue
                if _ignored_by_git(cited):  # named as what the repository must not hold
                    continue
                missing.append(f"{path.relative_to(ROOT)}:{number}: {cited}")
    assert missing == [], "\n".join(missing)


def test_specifications_are_cited_under_docs() -> None:
    outside = []
    for path in _tracked_text_files():
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in SPEC.finditer(line):
                if line[: match.start()].endswith("docs/"):
                    continue
                beside = (path.parent / match.group(1)).resolve()  # a relative link in docs/
                if beside.is_relative_to(ROOT / "docs") and beside.exists():
                    continue
                outside.append(f"{path.relative_to(ROOT)}:{number}: {match.group(1)}")
    assert outside == [], "\n".join(outside)
