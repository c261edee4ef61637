"""Run lakeweb on one machine: web server, worker and scheduler in one command.

This is what ``make run`` calls. It migrates, makes the layer folders or
buckets, prints the URL (and the first-admin link on a fresh install), then
supervises gunicorn and a Celery worker with an embedded beat scheduler;
when one stops, the other is stopped too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.urls import reverse

from lakeweb.setup import setup_needed, setup_token_make
from lakeweb.storage import layers_ensure


class Command(BaseCommand):
    help = "Run the web server, a worker and the backup scheduler (embedded default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        layers_ensure()
        base = f"http://{options['host']}:{options['port']}"
        self._announce(base)
        processes = [self._web(options), self._worker(options)]
        self._supervise(processes)

    def _announce(self, base: str) -> None:
        self.stdout.write(self.style.SUCCESS(f"lakeweb is starting at {base}/"))
        self.stdout.write(f"  data folder: {settings.DATA_DIR}")
        if setup_needed():
            link = base + reverse("setup", args=[setup_token_make()])
            self.stdout.write(
                self.style.WARNING("No admin yet. Create the first one (valid 24 h, once):")
            )
            self.stdout.write(f"  {link}")

    def _web(self, options: dict[str, Any]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "lakeweb.wsgi:application",
                "--bind",
                f"{options['host']}:{options['port']}",
                "--workers",
                str(options["web_workers"]),
                "--threads",
                "4",
                "--timeout",
                "3600",
            ]
        )

    def _worker(self, options: dict[str, Any]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "lakeweb",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(options["concurrency"]),
            ]
        )

    def _supervise(self, processes: list[subprocess.Popen[bytes]]) -> None:
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        codes = [p.returncode for p in processes]
        if not stopping and any(codes):
            raise SystemExit(f"a lakeweb process stopped unexpectedly (exit codes {codes})")
