"""Run the web server (gunicorn) and the Celery worker with beat together; Ctrl-C stops both.

This is what ``make run`` starts after migrating. Either process ending stops the other, so a crash is never
hidden behind a half-running product.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from kcs import metrics

QUEUES = "events,notifications,default"


class Command(BaseCommand):
    help = "Serve the UI and API with gunicorn and run a Celery worker with beat, until interrupted."

    def handle(self, *args, **options):
        # Counters of an earlier run would be added to this one's: no process of the product runs yet.
        metrics.clear_files()
        web = [
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
        worker = [
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
        ]
        processes = [subprocess.Popen(web), subprocess.Popen(worker)]
        self.stdout.write(f"KCS Response is up: http://{settings.HOST}:{settings.PORT}/  (Ctrl-C stops)")

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for process in processes:
                if process.poll() is not None:
                    self.stderr.write(f"{process.args[2:4]} exited with {process.returncode}; stopping.")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(exit_code)
