"""``manage.py serve`` (what ``make run`` runs): a crashed worker or web server is started again with backoff —
1 s doubling to 30 s, back to 1 s after a minute up — and the other keeps running; Ctrl-C or SIGTERM stops both."""

from __future__ import annotations

import os
import signal
import sys
import threading
from io import StringIO

import pytest
from django.core.management import call_command

from kcs.management.commands import serve
from tests.helpers import wait_for


class FakeProcess:
    def __init__(self, command):
        self.command = command
        self.returncode = None
        self.signals: list[int] = []

    def poll(self):
        return self.returncode

    def exit(self, code: int) -> None:
        self.returncode = code

    def send_signal(self, signum):
        self.signals.append(signum)
        self.returncode = -signum

    def wait(self, timeout=None):
        return self.returncode

    def kill(self):
        self.returncode = -9


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def supervised():
    clock = Clock()
    spawned: dict[str, list[FakeProcess]] = {"web": [], "worker": []}

    def spawn(command):
        process = FakeProcess(command)
        spawned[command[0]].append(process)
        return process

    supervisor = serve.Supervisor({"web": ["web"], "worker": ["worker"]}, spawn=spawn, clock=clock, log=lambda m: None)
    supervisor.start()
    return supervisor, clock, spawned


def crash_and_measure_restart(supervisor, clock, spawned, name="worker", step=0.25) -> float:
    """Crash the current ``name`` process now; return the seconds until the supervisor started a new one."""
    before = len(spawned[name])
    spawned[name][-1].exit(1)
    crashed = clock.now
    while len(spawned[name]) == before:
        supervisor.check()
        clock.now += step
        assert clock.now - crashed < 120, "never restarted"
    return clock.now - step - crashed


def test_backoff_doubles_from_one_second_up_to_thirty():
    assert [serve.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_crashed_worker_is_restarted_with_growing_backoff_and_the_web_server_keeps_running(supervised):
    supervisor, clock, spawned = supervised
    clock.now += 5
    delays = [crash_and_measure_restart(supervisor, clock, spawned) for _ in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert len(spawned["web"]) == 1 and spawned["web"][0].poll() is None  # never stopped nor restarted


def test_the_backoff_starts_over_once_the_process_stayed_up_a_minute(supervised):
    supervisor, clock, spawned = supervised
    assert [crash_and_measure_restart(supervisor, clock, spawned) for _ in range(3)] == [1, 2, 4]
    clock.now += serve.STABLE_AFTER
    assert crash_and_measure_restart(supervisor, clock, spawned) == 1


def test_a_crashed_web_server_is_restarted_too(supervised):
    supervisor, clock, spawned = supervised
    assert crash_and_measure_restart(supervisor, clock, spawned, name="web") == 1
    assert len(spawned["worker"]) == 1 and spawned["worker"][0].poll() is None


def test_stop_terminates_every_running_process(supervised):
    supervisor, clock, spawned = supervised
    supervisor.stop()
    assert spawned["web"][0].signals == [signal.SIGTERM] and spawned["worker"][0].signals == [signal.SIGTERM]


def test_serve_restarts_a_crashing_worker_and_sigterm_stops_everything(monkeypatch):
    """The command itself, with real child processes: a web server that runs and a worker that keeps crashing."""
    monkeypatch.setattr(serve, "BACKOFF_START", 0.05)
    web = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(serve, "web_command", lambda: web)
    monkeypatch.setattr(serve, "worker_command", lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    started: list = []
    real_popen = serve.subprocess.Popen

    def popen(command, *args, **kwargs):
        started.append(real_popen(command, *args, **kwargs))
        return started[-1]

    monkeypatch.setattr(serve.subprocess, "Popen", popen)
    stderr = StringIO()

    def terminate_when_restarted_twice():
        wait_for(lambda: stderr.getvalue().count("restarting worker") >= 2, timeout=20, what="two restarts")
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_when_restarted_twice, daemon=True)
    previous = signal.getsignal(signal.SIGTERM)
    killer.start()
    call_command("serve", stdout=StringIO(), stderr=stderr)
    killer.join(5)

    assert "worker (celery) exited with 3" in stderr.getvalue()
    webs = [process for process in started if process.args == web]
    assert len(webs) == 1  # the web server was never stopped for the worker's sake
    assert all(process.poll() is not None for process in started)  # SIGTERM stopped everything
    assert signal.getsignal(signal.SIGTERM) is previous
