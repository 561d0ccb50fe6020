"""Run a long-lived Airflow command so that Ctrl-C stops all of it.

Why: ``airflow standalone`` (``make up``) starts a scheduler, an API server, a DAG processor
and a triggerer, and on Ctrl-C ends them with SIGTERM and waits for each. A terminal's Ctrl-C
also reaches every one of them at once, and the scheduler, hit by SIGINT then SIGTERM while
its LocalExecutor's workers ignore SIGINT, never returns: ``standalone`` then waits for ever
and the terminal stays blocked. Run in a process group of its own, the command alone gets the
interrupt and shuts its components down in order; whatever is still alive after a grace
period is killed with the whole group, and a second Ctrl-C kills at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType

GRACE_S = 20.0


class _StopRequested(Exception):
    """Ctrl-C, SIGTERM or SIGHUP reached the supervisor."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal is still a member
        return True
    return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _wait_group(process: subprocess.Popen[bytes], pgid: int, timeout: float) -> bool:
    """Reap the leader and wait until no process of the group is left (True) or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()
        if process.returncode is not None and not _group_alive(pgid):
            return True
        time.sleep(0.2)
    return False


def run_in_own_group(
    command: Sequence[str], *, grace_s: float = GRACE_S, say: Callable[[str], None] = print
) -> int:
    """Run ``command`` until it ends or is interrupted; stop its whole process group then.

    Returns the command's exit code, or 0 once an interrupted command is stopped: the stop
    was asked for (``make`` would otherwise report it as an error). ``say`` prints the
    supervisor's own lines.
    """
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.getsignal(signum) for signum in handled}
    for signum in handled:
        signal.signal(signum, _raise_stop)
    process = subprocess.Popen(list(command), start_new_session=True)
    pgid = process.pid  # a new session: the leader's pid is the group's id
    try:
        try:
            return process.wait()
        except _StopRequested:
            pass
        say(f"stopping (up to {grace_s:.0f} s; Ctrl-C again to kill it now)")
        try:
            # The command's own orderly shutdown first: it stops its components.
            _signal_leader(process, signal.SIGINT)
            if not _wait_group(process, pgid, grace_s):
                say("some processes did not stop in time: killing them")
                _signal_group(pgid, signal.SIGKILL)
        except _StopRequested:
            _signal_group(pgid, signal.SIGKILL)
        _wait_group(process, pgid, 5.0)
        # Components left behind once the leader has gone (their parent died first).
        _signal_group(pgid, signal.SIGKILL)
        process.wait()
        say("stopped")
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _signal_leader(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
