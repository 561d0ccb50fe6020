"""Ctrl-C stops ``make up`` (``vigie airflow standalone``) and everything it started.

The supervisor runs in a real process, as ``vigie airflow standalone`` does, and gets SIGINT as
a terminal sends it; the command below behaves like the components that kept ``make up`` alive:
a child that ignores SIGINT and SIGTERM, and a parent that waits for it for ever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

STUBBORN = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", (
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)")])
    open(sys.argv[1], "w").write(str(child.pid))
    while True:
        try:
            child.wait()
            time.sleep(1)
        except KeyboardInterrupt:
            child.terminate()  # ignored: the parent waits again, like standalone's join()
    """
)

POLITE = textwrap.dedent(
    """
    import sys, time
    open(sys.argv[1], "w").write("ready")
    try:
        time.sleep(600)
    except KeyboardInterrupt:
        print("component stopped in order", flush=True)
    """
)


def _supervise(script: str, pid_file: Path, grace_s: float) -> subprocess.Popen[str]:
    code = (
        "import sys\n"
        "from vigie.orchestration.process_group import run_in_own_group\n"
        f"sys.exit(run_in_own_group([sys.executable, '-c', {script!r}, {str(pid_file)!r}], "
        f"grace_s={grace_s}))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by this container's init) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def test_ctrl_c_stops_a_command_whose_components_ignore_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    supervisor = _supervise(STUBBORN, pid_file, grace_s=2)
    child = int(_wait_for(pid_file))
    assert _alive(child)

    started = time.monotonic()
    supervisor.send_signal(signal.SIGINT)
    output, _ = supervisor.communicate(timeout=30)
    stopped_after = time.monotonic() - started

    assert supervisor.returncode == 0, output
    assert stopped_after < 10, f"the terminal stayed blocked {stopped_after:.1f} s"
    assert "did not stop in time: killing them" in output
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "a component survived Ctrl-C"


def test_a_command_that_stops_in_order_is_not_killed(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    supervisor = _supervise(POLITE, ready, grace_s=20)
    _wait_for(ready)
    supervisor.send_signal(signal.SIGINT)
    output, _ = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 0, output
    assert "component stopped in order" in output
    assert "killing" not in output


@pytest.mark.parametrize("code", [0, 3])
def test_the_commands_own_exit_code_is_kept(code: int) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom vigie.orchestration.process_group import run_in_own_group\n"
            f"sys.exit(run_in_own_group([sys.executable, '-c', 'raise SystemExit({code})']))",
        ],
        timeout=30,
    )
    assert result.returncode == code
