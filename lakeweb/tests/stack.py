"""The production stack for fault tests: worker processes, a Redis of their own, a cuttable
line to PostgreSQL. Each piece is real; each stops itself when the test ends.

Never the shared services' own processes: a test that needs Redis or PostgreSQL
to go away starts its own Redis, or cuts its own TCP line to PostgreSQL.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from conftest import _free_port, _wait_for_port, require_services
from lakeweb.celery import app as celery_app


def require_stack() -> None:
    """PostgreSQL and Redis, as the production stack has them; else skip (CI: fail)."""
    if connection.vendor != "postgresql":
        require_services("needs PostgreSQL: set DATABASE_URL=postgres://...")
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        require_services("needs Redis: set CELERY_BROKER_URL=redis://...")
    import redis

    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        require_services(f"Redis at {broker} does not answer: {exc}")


def database_url(*, port: int | None = None) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = "127.0.0.1" if port else (db["HOST"] or "127.0.0.1")
    return f"postgres://{auth}@{host}:{port or db['PORT'] or 5432}/{db['NAME']}"


def worker_env(s3: dict[str, Any], data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker's environment: the test database, the broker, the test's buckets."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LAKEWEB_DATA_DIR": str(data_dir),
        "LAKEWEB_STORAGE": "s3",
        "S3_ENDPOINT_URL": str(s3["S3_ENDPOINT_URL"]),
        "S3_ACCESS_KEY_ID": str(s3["S3_ACCESS_KEY_ID"]),
        "S3_SECRET_ACCESS_KEY": str(s3["S3_SECRET_ACCESS_KEY"]),
        **{f"S3_BUCKET_{layer.upper()}": name for layer, name in s3["S3_BUCKETS"].items()},
        "BACKUP_S3_BUCKET": str(s3["BACKUP_S3_BUCKET"]),
        **extra,
    }


# Seconds of a worker's job lease in these stacks: the workers renew every
# second, so a lost one is noticed in LEASE.
LEASE = 4


@contextmanager
def worker_stack(s3: dict[str, Any], tmp_path: Path, **settings_: str) -> Iterator[dict[str, Any]]:
    """Start workers on demand (``stack["start"](name, **env)``); all stopped at the end.

    Every worker gets a short lease and retry backoff, plus ``settings_`` (what
    slows the work under test enough to break it midway), plus its own ``env``.
    """
    require_stack()
    celery_app.control.purge()
    workers: list[Worker] = []

    def start(name: str, **env: str) -> Worker:
        environment = worker_env(
            s3,
            tmp_path / f"{name}-data",
            JOBS_LEASE_SECONDS=str(LEASE),
            JOBS_RETRY_BACKOFF="1",
            **{**settings_, **env},
        )
        worker = Worker(environment, tmp_path / f"{name}.log")
        workers.append(worker)
        worker.wait_ready()
        return worker

    try:
        yield {"start": start, "s3": s3, "tmp": tmp_path}
    finally:
        for worker in workers:
            worker.stop()
        celery_app.control.purge()


class Worker:
    """A Celery worker process (one process, all queues unless told), killed for real when asked."""

    def __init__(self, env: dict[str, str], log: Path, *, queues: str = "") -> None:
        self.log = log
        # "-Q pipelines" and the like: one queue only, as compose's workers run.
        only = ["-Q", queues] if queues else []
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "lakeweb",
                "worker",
                "--pool=solo",
                "-l",
                "INFO",
                *only,
            ],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, seconds: float = 60) -> None:
        wait(lambda: self.process.poll() is not None or b"ready." in self.log.read_bytes(), seconds)
        assert self.process.poll() is None, self.log.read_text()

    def kill(self) -> None:
        """SIGKILL, as a node lost or an OOM kill does: no clean-up runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


def wait(done: Callable[[], bool], seconds: float, *, every: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(every)
    raise AssertionError(f"not done after {seconds}s")


class RedisServer:
    """A Redis of the test's own on a free port (no persistence), to stop and start."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class TcpLine:
    """A TCP forwarder from a local port to PostgreSQL that can be cut for a while.

    Cutting closes every connection through it and refuses new ones, which is
    what clients see while the database restarts.
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = _free_port()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._up = threading.Event()
        self._stopped = threading.Event()
        self._listener: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._up.set()
        self._thread.start()
        _wait_for_port(self.port)

    def cut(self, seconds: float) -> None:
        """Drop every connection and refuse new ones for ``seconds``."""
        self._up.clear()
        self._close_listener()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                sock.close()
        time.sleep(seconds)
        self._up.set()

    def stop(self) -> None:
        self._stopped.set()
        self._up.set()
        self._close_listener()
        self._thread.join(timeout=5)

    def _close_listener(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def _serve(self) -> None:
        while not self._stopped.is_set():
            self._up.wait()
            if self._stopped.is_set():
                return
            listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
            listener.settimeout(0.2)
            with self._lock:
                self._listener = listener
            while self._up.is_set() and not self._stopped.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                self._connect(client)
            self._close_listener()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._pairs.append((client, upstream))
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()


def _pump(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select(timeout=1):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except (OSError, ValueError):
        return
    finally:
        a.close()
        b.close()
