"""The production-like compose file: well-formed, health-checked, and free of secrets.

No Docker engine runs here, so this checks the file itself, and has Debian's `docker-compose`
(1.29, which `.ci/run` installs) validate it against its Compose schema with a `.env` made from
`.env.example`, as an operator would.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

import pytest
import yaml
from vigie.settings import WarehouseTarget, load_settings

from tests.conftest import PROJECT

COMPOSE = PROJECT / "docker-compose.yaml"
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_every_service_has_a_health_check() -> None:
    services = _compose()["services"]
    assert AIRFLOW_SERVICES | {"postgres", "redis", "mailpit"} <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service, name


def test_airflow_services_share_one_configuration_on_celery_and_postgres() -> None:
    services = _compose()["services"]
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        # The warehouse is the Airflow connection vigie_warehouse, its password from .env.
        assert "VIGIE_WAREHOUSE_URL" not in env, name
        assert json.loads(env[WAREHOUSE_CONN]) == WAREHOUSE_CONN_VALUE, name
        assert "postgres" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        # Workers' task tokens are checked by the API server: one secret for every component.
        assert (
            env["AIRFLOW__API_AUTH__JWT_SECRET"]
            == "${AIRFLOW_JWT_SECRET:?set AIRFLOW_JWT_SECRET in .env}"
        )


WAREHOUSE_CONN = "AIRFLOW_CONN_VIGIE_WAREHOUSE"
WAREHOUSE_CONN_VALUE = {
    "conn_type": "postgres",
    "host": "postgres",
    "port": 5432,
    "schema": "vigie",
    "login": "vigie",
    "password": "${VIGIE_WAREHOUSE_PASSWORD:?set VIGIE_WAREHOUSE_PASSWORD in .env}",
}
# A URL holding credentials: scheme://user:password@host.
CREDENTIALS_IN_URL = re.compile(r"\w[\w+.-]*://[^\s/@:\"']*:([^\s/@\"']+)@")


def test_no_secret_is_written_in_the_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    keys = re.compile(r"^\s*([A-Z_]*(?:PASSWORD|SECRET|TOKEN|FERNET)[A-Z_]*):\s*(\S+)", re.M)
    found = keys.findall(text)
    assert found, "the file names its secrets as ${VARIABLES}"
    for key, value in found:
        assert value.startswith("${"), key
    for url in re.findall(r"\w+://[^\s\"']+", text):
        credentials = re.match(r"\w+://([^@/]*)@", url)
        if credentials and ":" in credentials.group(1):
            assert "${" in credentials.group(1), url


FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ADMIN_SECRET = "/run/secrets/airflow_admin_password"


def test_users_log_in_through_fab_with_the_first_admin_from_a_docker_secret() -> None:
    compose = _compose()
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        assert services[name]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    # The class the setting names is the one the locked FAB provider ships.
    fab = metadata.distribution("apache-airflow-providers-fab")
    module = fab.locate_file(FAB_AUTH_MANAGER.rpartition(".")[0].replace(".", "/") + ".py")
    assert "class FabAuthManager(" in Path(str(module)).read_text(encoding="utf-8")
    assert "apache-airflow-providers-fab" in _locked_distributions([])  # in the image too

    # Only the init service sees the admin's password: a Docker secret (a file), not .env.
    assert compose["secrets"]["airflow_admin_password"]["file"].startswith(
        "${AIRFLOW_ADMIN_PASSWORD_FILE:-"
    )
    assert {n for n in AIRFLOW_SERVICES if "secrets" in services[n]} == {"airflow-init"}
    assert services["airflow-init"]["secrets"] == ["airflow_admin_password"]
    commands = _shell_commands(services["airflow-init"]["command"][1])
    steps = [c[:3] for c in commands if c[0] == "airflow"]
    # Migrations (FAB's tables with Airflow's) before the user, the pool after.
    assert steps[:2] == [["airflow", "db", "migrate"], ["airflow", "users", "create"]]
    create = next(c for c in commands if c[:3] == ["airflow", "users", "create"])
    assert create[create.index("--role") + 1] == "Admin"
    # One word: a password starting with "-" would otherwise be read as an option.
    assert f"--password=$$(cat {ADMIN_SECRET})" in create
    # An empty secret stops the init before anything runs (else the CLI would prompt for one).
    assert commands[0] == ["test", "-s", ADMIN_SECRET]


def test_no_password_is_given_literally_on_a_command_line() -> None:
    given = []
    for name, service in _compose()["services"].items():
        test = service.get("healthcheck", {}).get("test", [])
        argv = _argv(service.get("entrypoint")) + _argv(service.get("command")) + _argv(test)
        words = [w for word in argv for command in _shell_commands(word) for w in command]
        for option, value in itertools.pairwise([*words, ""]):
            key, equals, inline = option.partition("=")
            if key in ("--password", "--conn-password", "-p"):
                given.append((name, inline if equals else value))
    assert given, "the init's users create is found"
    for name, value in given:  # read from a secret file or a variable, never written here
        assert value.startswith(("$$(cat /run/secrets/", "$${", "${")), (name, value)


def _compose_project(tmp_path: Path, secrets: dict[str, str]) -> Path:
    """The compose file beside a `.env` made the README's way: `.env.example` plus secrets."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yaml")
    env = (PROJECT / ".env.example").read_text(encoding="utf-8")
    env += "".join(f"{key}={value}\n" for key, value in secrets.items())
    (tmp_path / ".env").write_text(env, encoding="utf-8")
    return tmp_path


def _docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose (Debian package) is required in CI: .ci/run installs it")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return binary


SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "VIGIE_WAREHOUSE_PASSWORD": "wh-secret",
    "AIRFLOW_JWT_SECRET": "jwt-secret",
}


def test_docker_compose_validates_the_file_with_the_env_the_readme_describes(
    tmp_path: Path,
) -> None:
    project = _compose_project(tmp_path, SECRETS)
    result = subprocess.run(
        [_docker_compose(), "config"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    worker = config["services"]["airflow-worker"]["environment"]
    assert worker["AIRFLOW__API_AUTH__JWT_SECRET"] == "jwt-secret"
    # The warehouse's password reaches the services in the connection's JSON, in no URL (.env's
    # VIGIE_WAREHOUSE_URL, the DuckDB default, is unused while the connection exists).
    assert worker.get("VIGIE_WAREHOUSE_URL", "duckdb:///").startswith("duckdb:///")
    conn = json.loads(worker[WAREHOUSE_CONN])
    assert conn == {**WAREHOUSE_CONN_VALUE, "password": "wh-secret"}
    rendered = yaml.safe_dump(config)
    # No password in any URL: the metadata database's through PGPASSWORD, the warehouse's in
    # its connection.
    assert [m.group(0) for m in CREDENTIALS_IN_URL.finditer(rendered)] == []
    assert worker["PGPASSWORD"] == "pg-secret"
    assert worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://airflow@postgres/airflow"
    )
    assert CREDENTIALS_IN_URL.search("postgresql://vigie:wh-secret@postgres/vigie")  # the regex
    # Vigie reads it as the compose file gives it: the connection, through Airflow's parser.
    target = _warehouse_of({WAREHOUSE_CONN: worker[WAREHOUSE_CONN]})
    assert (target.kind, target.host, target.user, target.database) == (
        "postgres",
        "postgres",
        "vigie",
        "vigie",
    )
    assert target.password == "wh-secret" and "wh-secret" not in repr(target)
    assert worker["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    # The admin's password file, relative to the project unless .env names another.
    secret = config["secrets"]["airflow_admin_password"]["file"]
    assert secret == str(project / "secrets" / "airflow_admin_password")
    init = config["services"]["airflow-init"]
    assert [s["source"] if isinstance(s, dict) else s for s in init["secrets"]] == [
        "airflow_admin_password"
    ]
    assert "airflow_admin_password" not in json.dumps(config["services"]["airflow-apiserver"])


def _warehouse_of(environ: dict[str, str]) -> WarehouseTarget:
    """The warehouse Vigie resolves with ``environ`` added to the process's environment."""
    saved = {key: os.environ.get(key) for key in environ}
    os.environ.update(environ)
    try:
        return load_settings({**os.environ, **environ}).warehouse_target()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_docker_compose_refuses_to_run_without_the_secrets(tmp_path: Path) -> None:
    project = _compose_project(tmp_path, {})
    result = subprocess.run(
        [_docker_compose(), "config", "-q"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


# --- Every command the compose file runs in Vigie's image exists in that image -----------------
# What the image holds is read from the Dockerfile: its `FROM` base (the short list below), what
# its `apt-get install` and `pip install` lines add, and the console scripts of the distributions
# `uv sync` installs from uv.lock. A health check calling a tool the image lacks never passes, and
# every service waiting for `service_healthy` on it never starts.

DOCKERFILE = PROJECT / "Dockerfile"
_MERGED_USR = frozenset({"/usr/bin", "/bin"})  # Debian bookworm: /bin is a link to /usr/bin
# Debian slim's Essential packages (dash, bash, coreutils, grep, sed, findutils): only the basics
# a command line may call, kept explicit. No curl and no wget: the python images fetch CPython's
# sources with wget and purge it afterwards.
_DEBIAN_SLIM = dict.fromkeys(
    (
        "sh",
        "dash",
        "bash",
        "cat",
        "echo",
        "env",
        "ls",
        "mkdir",
        "rm",
        "cp",
        "mv",
        "sleep",
        "test",
        "true",
        "false",
        "timeout",
        "date",
        "grep",
        "sed",
        "find",
        "xargs",
    ),
    _MERGED_USR,
)
# CPython as the official python images install it, in /usr/local.
_CPYTHON = dict.fromkeys(
    ("python", "python3", "python3.11", "pip", "pip3", "pip3.11", "pydoc3"),
    frozenset({"/usr/local/bin"}),
)
BASE_IMAGES = {
    "python:3.11-slim": _DEBIAN_SLIM | _CPYTHON,
    "python:3.11-slim-bookworm": _DEBIAN_SLIM | _CPYTHON,
}
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Debian packages whose commands are not named after the package (the others are).
_APT_COMMANDS = {
    "postgresql-client": {"psql", "pg_isready", "pg_dump"},
    "procps": {"ps", "pgrep", "pkill", "kill"},
    "redis-tools": {"redis-cli"},
}
# In a shell script: builtins and keywords (not looked up), and words that run the next word.
_SHELL_BUILTINS = {
    "echo",
    "exit",
    "test",
    "[",
    "true",
    "false",
    "cd",
    "export",
    "set",
    "unset",
    "printf",
    "read",
    "source",
    ".",
    ":",
    "wait",
    "trap",
    "eval",
    "shift",
    "kill",
    "fi",
    "done",
    "esac",
    "}",
}
_SHELL_PREFIXES = {
    "if",
    "then",
    "else",
    "elif",
    "do",
    "while",
    "until",
    "!",
    "{",
    "exec",
    "command",
    "time",
}
_SHELLS = {"sh", "bash", "dash"}
_OPERATORS = "();<>|&\n"
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class _Image:
    commands: dict[str, set[str]] = field(default_factory=dict)  # name -> directories holding it
    env: dict[str, str] = field(default_factory=lambda: {"PATH": _DEFAULT_PATH})
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    def add(self, names: set[str], directories: set[str] | frozenset[str]) -> None:
        for name in names:
            self.commands.setdefault(name, set()).update(directories)

    def holds(self, executable: str) -> bool:
        path = PurePosixPath(executable)
        directories = self.commands.get(path.name, set())
        if path.is_absolute():
            return str(path.parent) in directories
        return "/" not in executable and bool(directories & set(self.env["PATH"].split(":")))


def _shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, each as its words. A pragmatic parser: a construct
    it does not know yields a word that is then looked for in the image, and fails the test."""
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=_OPERATORS)
    lexer.whitespace, lexer.whitespace_split = " \t\r", True
    commands: list[list[str]] = [[]]
    redirect = False
    for token in lexer:
        if set(token) <= set(_OPERATORS):
            redirect = "<" in token or ">" in token
            if not redirect:
                commands.append([])
        elif redirect:  # the file a redirection names
            redirect = False
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def _executables(argv: list[str], *, in_shell: bool = False) -> list[str]:
    """The executables a command line runs: its first word, and those of a shell's `-c` script."""
    words = list(argv)
    if in_shell:
        while words and (words[0] in _SHELL_PREFIXES or _ASSIGNMENT.match(words[0])):
            words.pop(0)
        if not words or words[0] in _SHELL_BUILTINS:
            return []
    if not words:
        return []
    found = [words[0]]
    if PurePosixPath(words[0]).name in _SHELLS:
        options = [w for w in words[1:] if w.startswith("-")]
        arguments = [w for w in words[1:] if not w.startswith("-")]
        if any("c" in option.lstrip("-") for option in options if not option.startswith("--")):
            assert arguments, f"{words[0]} -c without a script: {argv}"
            for command in _shell_commands(arguments[0]):
                found += _executables(command, in_shell=True)
    return found


def _argv(value: str | list | None) -> list[str]:
    """A compose `command`/`entrypoint`: a string is split as a shell would, without one."""
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(word) for word in value]


def _distribution_scripts(name: str) -> set[str]:
    """The commands a distribution installs (console scripts, scripts), as installed here."""
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return set()
    scripts = {
        entry.name
        for entry in distribution.entry_points
        if entry.group in ("console_scripts", "gui_scripts")
    }
    for file in distribution.files or ():
        parts = PurePosixPath(str(file)).parts
        if len(parts) == 5 and parts[:4] == ("..", "..", "..", "bin"):
            scripts.add(parts[4])
    return scripts


def _locked_distributions(groups: list[str]) -> set[str]:
    """The distributions `uv sync` installs from uv.lock: the project's dependencies (extras
    included) and those of the dependency groups asked for, transitively."""
    lock = tomllib.loads((PROJECT / "uv.lock").read_text(encoding="utf-8"))
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    packages: dict[str, list[dict]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], []).append(package)
    (root,) = packages[pyproject["project"]["name"]]
    todo = list(root.get("dependencies", []))
    for group in groups:
        todo += root.get("dev-dependencies", {}).get(group, [])
    seen: set[tuple[str, str | None]] = set()
    while todo:
        requirement = todo.pop()
        for extra in [None, *requirement.get("extra", [])]:
            if (requirement["name"], extra) in seen:
                continue
            seen.add((requirement["name"], extra))
            for package in packages[requirement["name"]]:
                if extra is None:
                    todo += package.get("dependencies", [])
                else:
                    todo += package.get("optional-dependencies", {}).get(extra, [])
    return {name for name, _ in seen}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _image() -> _Image:
    """What the image the Dockerfile builds holds: its final stage, from its `FROM` base up."""
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    base = next(w for w in instructions[last_from][1].split() if not w.startswith("--"))
    assert base in BASE_IMAGES, f"FROM {base}: list what it ships in BASE_IMAGES"
    image = _Image()
    for name, directories in BASE_IMAGES[base].items():
        image.add({name}, directories)
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))

    def expand(value: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: image.env.get(m.group(1), ""), value)

    for keyword, rest in instructions[last_from + 1 :]:
        if keyword == "ENV":
            words = shlex.split(rest)
            if "=" in words[0]:
                pairs = [word.partition("=") for word in words]
            else:  # the legacy form, ENV KEY value
                pairs = [(words[0], "=", " ".join(words[1:]))]
            for key, _, value in pairs:
                image.env[key] = expand(value)
        elif keyword == "WORKDIR":
            image.workdir = str(PurePosixPath(image.workdir) / expand(rest))
        elif keyword in ("ENTRYPOINT", "CMD"):
            argv = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]
            setattr(image, keyword.lower(), argv)
        elif keyword == "RUN":
            for command in _shell_commands(rest):
                words = [w for w in command if not _ASSIGNMENT.match(w)]
                _add_installed(image, words, pyproject)
    return image


def _add_installed(image: _Image, words: list[str], pyproject: dict) -> None:
    """What one command of a `RUN` line installs in the image."""
    arguments = [w for w in words[1:] if not w.startswith("-")]
    if words[0] in ("apt-get", "apt") and arguments[:1] == ["install"]:
        for package in arguments[1:]:
            image.add(_APT_COMMANDS.get(package, {package}), _MERGED_USR)
    elif words[0] in ("pip", "pip3") and arguments[:1] == ["install"]:
        for requirement in arguments[1:]:
            name = re.split(r"[\[<>=!~;@ ]", requirement)[0]
            image.add(_distribution_scripts(name) or {name}, {"/usr/local/bin"})
    elif words[0] == "uv" and arguments[:1] == ["sync"]:
        venv = PurePosixPath(image.workdir) / image.env.get("UV_PROJECT_ENVIRONMENT", ".venv")
        no_groups = {"--no-dev", "--no-default-groups"} & set(words)
        default_groups = pyproject.get("tool", {}).get("uv", {}).get("default-groups", ["dev"])
        groups = [] if no_groups else default_groups
        scripts = {"python", "python3", "python3.11"}
        for distribution in _locked_distributions(groups):
            scripts |= _distribution_scripts(distribution)
        if "--no-install-project" not in words:
            scripts |= set(pyproject["project"].get("scripts", {}))
        image.add(scripts, {str(venv / "bin")})


def _command_lines(service: dict, image: _Image) -> Iterator[tuple[str, list[str]]]:
    """The command lines a service runs in the image: its process, and its health check."""
    entrypoint = _argv(service["entrypoint"]) if "entrypoint" in service else image.entrypoint
    command = _argv(service["command"]) if "command" in service else image.cmd
    if entrypoint or command:
        yield "entrypoint/command", entrypoint + command
    test = service.get("healthcheck", {}).get("test")
    if isinstance(test, str):
        yield "healthcheck", ["/bin/sh", "-c", test]
    elif test and test[0] == "CMD":
        yield "healthcheck", [str(word) for word in test[1:]]
    elif test and test[0] == "CMD-SHELL":
        yield "healthcheck", ["/bin/sh", "-c", " ".join(test[1:])]
    else:  # NONE, or no check: test_every_service_has_a_health_check
        assert not test or test == ["NONE"], test


def test_the_image_is_read_from_the_dockerfile() -> None:
    image = _image()
    for command in ("sh", "bash", "python", "uv", "airflow", "celery", "dbt", "vigie"):
        assert image.holds(command), command
    assert image.holds("/bin/sh") and image.holds("/usr/local/bin/python")
    assert not image.holds("/usr/local/bin/airflow")  # airflow is in the project's virtualenv
    for tool in ("curl", "wget"):  # in the image only if the Dockerfile installs them
        assert image.holds(tool) == bool(re.search(rf"\b{tool}\b", DOCKERFILE.read_text()))


def test_the_shell_parser_finds_every_command() -> None:
    script = 'X=1 a --x "$${Y}" 2>&1 >/dev/null &&\n  b || c | d; if e; then echo "f"; fi'
    assert [c[0] for c in _shell_commands(script)] == ["X=1", "b", "c", "d", "if", "then", "fi"]
    assert _executables(["/bin/sh", "-ec", script]) == ["/bin/sh", "a", "b", "c", "d", "e"]
    assert _executables(["curl", "--fail", "http://x"]) == ["curl"]


def test_every_command_the_services_run_exists_in_the_image_they_run() -> None:
    image = _image()
    services = _compose()["services"]
    built = {name for name, service in services.items() if "build" in service}
    assert built == AIRFLOW_SERVICES  # the others run their own images (postgres, redis, ...)
    checked, missing = 0, []
    for name in sorted(built):
        for where, argv in _command_lines(services[name], image):
            for executable in _executables(argv):
                checked += 1
                if not image.holds(executable):
                    missing.append(f"{name} {where}: {executable}")
    assert checked >= 2 * len(built)
    assert not missing, f"not in the image the Dockerfile builds: {missing}"
