"""Run the web server (gunicorn) and the Celery worker with beat together; Ctrl-C (or SIGTERM) stops both.

This is what ``make run`` starts after migrating. A process that ends on its own (a crash, an OOM kill) is started
again after a backoff — 1 s, doubling up to 30 s for a process that keeps crashing, back to 1 s once it stayed up a
minute — so a worker that died does not take the web server down with it, and a crash loop does not spin.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand

from kcs import metrics

QUEUES = "events,notifications,default"
BACKOFF_START = 1.0  # seconds before the first restart of a crashed process
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # a process that stayed up this long starts over at BACKOFF_START when it ends
STOP_TIMEOUT = 20.0  # seconds for the processes to stop after SIGTERM, then SIGKILL


def web_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "kcs.wsgi",
        "--bind",
        f"{settings.HOST}:{settings.PORT}",
        "--workers",
        str(settings.WEB_CONCURRENCY),
        "--threads",
        str(settings.WEB_THREADS),
        "--access-logfile",
        "-",
        "--timeout",
        "60",
        "--config",
        "python:kcs.gunicorn_conf",
    ]


def worker_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "kcs",
        "worker",
        "--beat",
        "--queues",
        QUEUES,
        "--concurrency",
        str(settings.WORKER_CONCURRENCY),
        "--loglevel",
        settings.LOG_LEVEL.lower(),
        "--schedule",
        settings.CELERY_BEAT_SCHEDULE_FILENAME,
        # Worker-to-worker broadcasts this product does not use, whose consumers break on a broker reconnect
        # (kcs/celery.py switches them off for any worker; said here too, for whoever reads the command line).
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def backoff(crashes: int) -> float:
    """Seconds before restarting a process that ended ``crashes`` times in a row without staying up."""
    return min(BACKOFF_MAX, BACKOFF_START * 2 ** max(crashes - 1, 0))


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    crashes: int = 0  # consecutive ends without having stayed up STABLE_AFTER
    restart_at: float | None = None


class Supervisor:
    """Keeps a set of processes running: each one that ends is started again after :func:`backoff`."""

    def __init__(
        self,
        commands: dict[str, list[str]],
        *,
        spawn: Callable[[list[str]], subprocess.Popen] | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = print,
    ):
        self.children = [Child(name, command) for name, command in commands.items()]
        self.spawn = spawn or (lambda command: subprocess.Popen(command))
        self.clock = clock
        self.log = log

    def start(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.process = self.spawn(child.command)
        child.started_at = self.clock()
        child.restart_at = None

    def check(self) -> None:
        """Notice processes that ended and restart those whose backoff is over; call it every fraction of a second."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is None and child.process is not None and child.process.poll() is not None:
                if now - child.started_at >= STABLE_AFTER:
                    child.crashes = 0
                child.crashes += 1
                delay = backoff(child.crashes)
                child.restart_at = now + delay
                self.log(
                    f"{child.name} exited with {child.process.returncode} after {now - child.started_at:.0f} s; "
                    f"restarting it in {delay:.0f} s"
                )
            if child.restart_at is not None and now >= child.restart_at:
                self.log(f"restarting {child.name}")
                self._start(child)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every running process, wait for them, SIGKILL those still running after ``timeout``."""
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = self.clock() + timeout
        for process in running:
            try:
                process.wait(timeout=max(deadline - self.clock(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Command(BaseCommand):
    help = "Serve the UI and API with gunicorn and run a Celery worker with beat, until interrupted."

    def handle(self, *args, **options):
        # Counters of an earlier run would be added to this one's: no process of the product runs yet.
        metrics.clear_files()
        supervisor = Supervisor(
            {"web server (gunicorn)": web_command(), "worker (celery)": worker_command()},
            log=lambda message: self.stderr.write(message),
        )
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            supervisor.start()
            self.stdout.write(f"KCS Response is up: http://{settings.HOST}:{settings.PORT}/  (Ctrl-C stops)")
            while not stopping:
                supervisor.check()
                time.sleep(0.2)
        finally:
            supervisor.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
