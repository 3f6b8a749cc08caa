"""Stopping a command that runs DAGs with dag.test() in its own process (demo, run).

Airflow's task runner replaces the SIGTERM handler with one that only calls the running
task's `on_kill` and never puts the old one back, and it catches every exception a task
raises (KeyboardInterrupt included) to mark the task failed. So neither SIGTERM nor a
single Ctrl-C would stop such a run. Here:

- SIGTERM is blocked in every thread but a watcher (enter `stop_on_signals` before any
  other thread starts: numpy and pyarrow start theirs when imported), which asks the main
  thread to stop with SIGINT;
- the first stop request (SIGTERM or Ctrl-C) raises KeyboardInterrupt; if the run is still
  going `GRACE_SECONDS` later (the interrupt landed inside a task, which Airflow then
  failed), the process ends there and then.

Either way nothing is left half-written: every load is one transaction (rolled back when
its process ends) and every raw-zone file is written whole or not at all.

Stdlib only, so that importing it starts no thread.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

GRACE_SECONDS = 10.0


@dataclass
class StopRequest:
    """Which signal asked the command to stop (None while nobody has)."""

    signal: int | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signal or signal.SIGINT)


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: trust Python's count
        return threading.active_count()


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Make SIGTERM and Ctrl-C stop the run (see the module's text); yields what asked."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    if _threads() > 1:
        print(f"warning: {_threads() - 1} thread(s) started before the SIGTERM watcher; "
              "SIGTERM may not stop this run (Ctrl-C will)", file=sys.stderr, flush=True)

    def end_if_still_running() -> None:
        time.sleep(GRACE_SECONDS)
        print(f"still running {GRACE_SECONDS:.0f} s after the stop request (it reached "
              "a task, which Airflow marks failed): ending now; the partition in progress "
              "is rolled back", file=sys.stderr, flush=True)
        os._exit(request.exit_code)

    def asked(signum: int) -> None:
        if request.signal is None:
            request.signal = signum
            threading.Thread(target=end_if_still_running, daemon=True).start()

    def on_sigint(signum: int, frame: object) -> None:
        asked(request.signal or signum)
        raise KeyboardInterrupt

    def watch() -> None:
        signal.sigwait({signal.SIGTERM})
        print("SIGTERM: stopping the run", file=sys.stderr, flush=True)
        asked(signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    threading.Thread(target=watch, name="sigterm-watcher", daemon=True).start()
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not Airflow's task handler
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
