"""Load benchmark: the catalog, a dataset page, a search and the API under 32 connections.

Starts on loopback a production-like stack of its own: a PostgreSQL database
made for the run (on the local server; dropped at the end), two Redis servers
on free ports (the Celery broker and the cache, as compose.yaml has them),
lakeweb under gunicorn with compose's settings (sync workers, 2 x cores + 1 of
them by default, no debug) and, for the second phase, a Celery worker serving
every queue. Fills the catalog with bench/catalog.py's loader (realistic names,
metadata and tags; every file also written to the store, so that a backup can
copy it), then drives it with wrk, 32 connections for 60 s, each connection
asking in turn for:

- the catalog (first page, page 2, a layer filter),
- a dataset page (one of 50 datasets),
- a search (one of several words and sample ids),
- the API list (as a viewer, with a read-only API token),

and prints requests/s, p50/p95/p99 latency and the errors: socket errors
(connect, read, write), timeouts, answers other than 2xx/3xx and, among them,
5xx, each counted apart. Target: 0 errors, 0 5xx, p99 < 500 ms.

Phase 2 is the same load while a 2 GiB upload runs through the upload
protocol over HTTP, as the page sends it (bench/upload.py's client), and a
backup (a snapshot job, on the worker). Target: still 0 errors. Their own
durations are printed too.

    .venv/bin/python bench/load.py                                   # the full run
    .venv/bin/python bench/load.py --seconds 10 --connections 8 --gib 0.1 --datasets 500

DATABASE_URL names the PostgreSQL server (default: the local one, database
``lakeweb_loadbench``). Needs wrk (Debian: ``apt-get install wrk``); without it a
Python threads client stands in, labelled as such, whose own CPU use competes
with the server's on a small machine.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.catalog import Loader, ServerCpu, recreate_database, setup_django  # noqa: E402
from bench.upload import MIB, PASSWORD, Client, free_port, make_files, wait_port  # noqa: E402

PYTHON = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/lakeweb_loadbench"
KINDS = ("catalog", "dataset page", "search", "API list")
SEARCHES = ["hela", "time-lapse", "mouse liver", "zebrafish tomogram", "knockdown", "proteome"]


# --- the stack ------------------------------------------------------------------------


class Processes:
    """Every process the run starts, each in a session of its own: stopped on exit or Ctrl-C."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.started.append((name, process))
        return process

    def log(self, name: str) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def stop_all(self) -> None:
        for _name, process in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                self.stop(process)


def redis_server(processes: Processes, name: str, *extra: str) -> str:
    port = free_port()
    processes.start(
        name,
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", *extra],
        dict(os.environ),
    )  # fmt: skip
    wait_port(port, 30)
    return f"redis://127.0.0.1:{port}/0"


def drop_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.path.lstrip("/")}" WITH (FORCE)')


def stack_env(work: Path, database_url: str, broker: str, cache: str) -> dict[str, str]:
    """compose.yaml's environment for web and worker, on loopback and the filesystem store."""
    (work / "prometheus").mkdir()
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "CACHE_URL": cache,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "LAKEWEB_DATA_DIR": str(work / "data"),
        "LAKEWEB_STORAGE": "filesystem",
        "LAKEWEB_STORAGE_DIR": str(work / "lake"),
        "BACKUP_STORAGE": "filesystem",
        "BACKUP_DIR": str(work / "backups"),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
        # Each worker keeps its database connection through a phase, so that the
        # backends whose CPU time is counted stay the same (ServerCpu).
        "DATABASE_CONN_MAX_AGE": "3600",
        "LOG_LEVEL": "WARNING",
    }


# --- the catalog ----------------------------------------------------------------------


def files_write() -> int:
    """Give every loaded file real bytes in its layer's store, and rows that match them.

    The loader writes rows only; a snapshot copies (and checks) each file's
    bytes. Each file holds its key and a newline; sizes and SHA-256 follow.
    """
    from django.db import connection

    from lakeweb.storage import layer_store

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_datafile SET size = octet_length(storage_key) + 1,"
            " sha256 = encode(sha256(convert_to(storage_key || E'\\n', 'UTF8')), 'hex')"
        )
        cursor.execute(
            "UPDATE catalog_dataset d SET total_size = s.total FROM (SELECT dataset_id,"
            " sum(size) AS total FROM catalog_datafile GROUP BY dataset_id) s"
            " WHERE d.id = s.dataset_id"
        )
        cursor.execute(
            "UPDATE catalog_datafolder f SET total_size = (SELECT coalesce(sum(size), 0)"
            " FROM catalog_datafile x WHERE x.dataset_id = f.dataset_id AND (f.path = ''"
            " OR x.folder = f.path OR x.folder LIKE f.path || '/%%'))"
        )
        cursor.execute(
            "SELECT d.layer, f.storage_key FROM catalog_datafile f"
            " JOIN catalog_dataset d ON d.id = f.dataset_id ORDER BY d.layer"
        )
        rows = cursor.fetchall()
    # Plain writes, no flush to disk: this is the bench's setup, not what it measures.
    for layer, key in rows:
        path = Path(layer_store(layer).storage.path(key))  # type: ignore[attr-defined]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{key}\n".encode())
    return len(rows)


@dataclass
class Targets:
    """The addresses each connection rotates through, and the headers each kind sends."""

    paths: dict[str, list[str]]
    headers: dict[str, dict[str, str]]


def targets_make() -> Targets:
    """A viewer's session (pages) and read-only API token (the API); the URLs of each kind."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from catalog.models import Dataset
    from lakeweb.tokens.services import api_token_create

    viewer = get_user_model().objects.get(email="viewer@lab.example")
    session = SessionStore()
    session["_auth_user_id"] = str(viewer.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = viewer.get_session_auth_hash()
    session.create()
    token = api_token_create(user=viewer, name="bench/load.py", read_only=True)[1]
    datasets = Dataset.objects.filter(file_count__lt=100).order_by("?")[:50]
    samples = [d.name.split()[-1].lower() for d in datasets[:4]]
    pages = {"Cookie": f"sessionid={session.session_key}", "Host": "127.0.0.1"}
    return Targets(
        paths={
            "catalog": ["/datasets/", "/datasets/?page=2", "/datasets/?layer=processed"],
            "dataset page": [f"/datasets/{d.pk}/" for d in datasets],
            "search": ["/datasets/?" + urlencode({"q": q}) for q in SEARCHES + samples],
            "API list": ["/api/datasets/", "/api/datasets/?layer=raw"],
        },
        headers={
            "catalog": pages,
            "dataset page": pages,
            "search": pages,
            "API list": {"Authorization": f"Token {token}", "Host": "127.0.0.1"},
        },
    )


def targets_check(port: int, targets: Targets, cpu: ServerCpu) -> dict[str, tuple[float, float]]:
    """Each address answers 200 before the load starts (a wrong setup fails here, clearly);
    each kind's median wall time and server CPU time (ms), asked one at a time.

    The first round waits for gunicorn's workers to boot (a long timeout) and
    is not counted."""
    times: dict[str, list[tuple[float, float]]] = {kind: [] for kind in targets.paths}
    for round_ in range(2):
        cpu.refresh()  # the workers' database connections, open after the first round
        for kind, paths in targets.paths.items():
            for path in paths:
                used, began = cpu.nanoseconds(), time.perf_counter()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("GET", path, headers=targets.headers[kind])
                response = conn.getresponse()
                body = response.read()
                conn.close()
                if response.status != 200:
                    raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
                if round_:
                    wall = (time.perf_counter() - began) * 1000
                    times[kind].append((wall, (cpu.nanoseconds() - used) / 1e6))
    return {
        kind: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for kind, values in times.items()
    }


# --- the load -------------------------------------------------------------------------


def lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError(f"cannot quote {text!r}")
    return f"[==[{text}]==]"


def wrk_script(targets: Targets) -> str:
    """Each request the next kind (catalog, dataset, search, API), each kind the next address.

    Every status is counted in each thread; done() adds them up and prints one
    JSON line with wrk's own figures.
    """
    kinds = []
    for kind in KINDS:
        headers = ", ".join(
            f"[ {lua_string(k)} ] = {lua_string(v)}" for k, v in targets.headers[kind].items()
        )
        paths = ", ".join(lua_string(p) for p in targets.paths[kind])
        kinds.append(f"  {{headers = {{{headers}}}, paths = {{{paths}}}}}")
    return (
        "local kinds = {\n"
        + ",\n".join(kinds)
        + "\n}\n"
        + r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  n = math.random(0, 1000)
end
function request()
  n = n + 1
  local kind = kinds[(n % #kinds) + 1]
  local path = kind.paths[(math.floor(n / #kinds) % #kind.paths) + 1]
  return wrk.format("GET", path, kind.headers)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[#counts + 1] = string.format('"%d": %d', status, count)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'LOAD {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"statuses": [{%s}]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    table.concat(counts, "}, {")))
end
"""
    )


@dataclass
class Figures:
    """One phase's load: what wrk (or the threads client) saw."""

    client: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: dict[str, int]
    timeouts: int
    statuses: Counter[int] = field(default_factory=Counter)
    server_cpu_ms: float | None = None  # CPU time of gunicorn's workers and their backends

    @property
    def bad_statuses(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 400)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values()) + self.timeouts + self.bad_statuses

    def lines(self, label: str, *, p99_target: bool) -> list[str]:
        """``p99_target``: the load alone has one (phase 1); under an upload and a
        backup the target is no errors only (phase 2)."""
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        sockets = ", ".join(f"{k} {v}" for k, v in self.socket_errors.items())
        met = self.errors == 0 and self.server_errors == 0
        if p99_target:
            met = met and self.p99_ms < 500
        target = "0 errors, 0 5xx, p99 < 500 ms" if p99_target else "0 errors, 0 5xx"
        return [
            f"{label} ({self.client}):",
            f"  {self.requests / self.seconds:.1f} requests/s ({self.requests} in {self.seconds:.1f} s)",
            f"  latency p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms,"
            f" max {self.max_ms:.1f} ms",
            f"  errors {self.errors}: socket errors ({sockets}), timeouts {self.timeouts},"
            f" not 2xx/3xx {self.bad_statuses}, of which 5xx {self.server_errors}",
            f"  statuses: {statuses}",
            *self.cpu_lines(),
            f"  target: {target}: {'ok' if met else 'MISSED'}",
        ]

    def cpu_lines(self) -> list[str]:
        if self.server_cpu_ms is None or not self.requests:
            return []
        per = self.server_cpu_ms / self.requests
        cores = os.cpu_count() or 1
        return [
            f"  server CPU {per:.1f} ms a request (gunicorn's workers and their PostgreSQL"
            f" backends): at most {cores * 1000 / per:.0f} requests/s on {cores} idle cores"
        ]


def wrk_parse(output: str) -> Figures:
    """wrk's output: the JSON line the script's done() printed."""
    line = next((x for x in output.splitlines() if x.startswith("LOAD ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures (an error in its script?):\n{output}")
    data = json.loads(line[5:])
    statuses: Counter[int] = Counter()
    for counts in data["statuses"]:
        statuses.update({int(status): count for status, count in counts.items()})
    return Figures(
        client="wrk",
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors={k: data[k] for k in ("connect", "read", "write")},
        timeouts=data["timeout"],
        statuses=statuses,
    )


def wrk_run(wrk: str, port: int, targets: Targets, args: argparse.Namespace, work: Path) -> Figures:
    script = work / "load.lua"
    script.write_text(wrk_script(targets))
    threads = min(args.connections, 2)
    command = [wrk, f"-t{threads}", f"-c{args.connections}", f"-d{args.seconds}s",
               f"--timeout={args.timeout}s", "-s", str(script), f"http://127.0.0.1:{port}/"]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=args.seconds + args.timeout + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wrk_parse(done.stdout + done.stderr)


def threads_run(port: int, targets: Targets, args: argparse.Namespace) -> Figures:
    """The same rotation from Python threads, for a machine without wrk."""
    stop = time.monotonic() + args.seconds
    lock = threading.Lock()
    timings: list[float] = []
    statuses: Counter[int] = Counter()
    socket_errors: Counter[str] = Counter({"connect": 0, "read": 0, "write": 0})
    timeouts = 0

    def work(offset: int) -> None:
        nonlocal timeouts
        n = offset
        while time.monotonic() < stop:
            n += 1
            kind = KINDS[n % len(KINDS)]
            paths = targets.paths[kind]
            path = paths[(n // len(KINDS)) % len(paths)]
            began = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=args.timeout)
            try:
                conn.request("GET", path, headers=targets.headers[kind])
                response = conn.getresponse()
                response.read()
            except TimeoutError:
                with lock:
                    timeouts += 1
                continue
            except ConnectionRefusedError:
                with lock:
                    socket_errors["connect"] += 1
                continue
            except (OSError, http.client.HTTPException):
                with lock:
                    socket_errors["read"] += 1
                continue
            finally:
                conn.close()
            with lock:
                timings.append((time.perf_counter() - began) * 1000)
                statuses[response.status] += 1

    began = time.monotonic()
    pool = [threading.Thread(target=work, args=(i * 7,)) for i in range(args.connections)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    timings.sort()
    quantiles = statistics.quantiles(timings, n=100) if len(timings) > 1 else timings * 99
    return Figures(
        client="python threads, NOT wrk: the client shares the CPU with the server",
        requests=sum(statuses.values()) + sum(socket_errors.values()) + timeouts,
        seconds=time.monotonic() - began,
        p50_ms=quantiles[49],
        p95_ms=quantiles[94],
        p99_ms=quantiles[98],
        max_ms=timings[-1] if timings else 0.0,
        socket_errors=dict(socket_errors),
        timeouts=timeouts,
        statuses=statuses,
    )


def load_run(
    port: int, targets: Targets, args: argparse.Namespace, work: Path, cpu: ServerCpu
) -> Figures:
    """One phase's load, and the CPU time the server's processes spent meanwhile."""
    wrk = shutil.which("wrk")
    cpu.refresh()
    used = cpu.nanoseconds()
    figures = wrk_run(wrk, port, targets, args, work) if wrk else threads_run(port, targets, args)
    figures.server_cpu_ms = (cpu.nanoseconds() - used) / 1e6
    return figures


# --- phase 2: an upload and a backup under the load -----------------------------------


@dataclass
class Timed:
    """Background work: its duration once done, or why it failed."""

    name: str
    seconds: float | None = None
    failure: str = ""
    detail: str = ""


def upload_in_background(url: str, form_id: int, path: Path) -> tuple[threading.Thread, Timed]:
    result = Timed("upload")

    def run() -> None:
        began = time.monotonic()
        try:
            client = Client(url, form_id)
            client.upload([("big.bin", path)])
            result.seconds = time.monotonic() - began
            size = path.stat().st_size
            result.detail = f"{size / MIB:.0f} MiB, {size / MIB / result.seconds:.0f} MiB/s"
        except Exception as exc:  # noqa: BLE001 - reported, and the run fails
            result.failure = f"{type(exc).__name__}: {exc}"[:600]

    thread = threading.Thread(target=run, name="upload")
    thread.start()
    return thread, result


def backup_in_background(backup_id: int, limit: float) -> tuple[threading.Thread, Timed]:
    """Poll the snapshot's job until it ends (or ``limit`` seconds pass)."""
    from django.db import connection

    from backups.models import BackupJob
    from lakeweb.jobs.models import JobStatus

    result = Timed("backup")

    def run() -> None:
        began = time.monotonic()
        try:
            while time.monotonic() - began < limit:
                backup = BackupJob.objects.select_related("job").get(pk=backup_id)
                if backup.job.status not in JobStatus.finished():
                    time.sleep(0.5)
                    continue
                if backup.complete:
                    result.seconds = time.monotonic() - began
                    result.detail = (
                        f"snapshot of {backup.object_count:,} files of {backup.dataset_count:,}"
                        f" datasets, {backup.bytes_copied / MIB:.1f} MiB copied"
                    )
                else:
                    result.failure = f"job {backup.job.status}: {backup.job.error}"[:600]
                return
            result.failure = f"not finished after {limit:.0f} s"
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="backup")
    thread.start()
    return thread, result


def summary_lines(slices: list[Figures]) -> list[str]:
    """Phase 2's slices together: sums, and the worst of each latency figure."""
    requests = sum(f.requests for f in slices)
    seconds = sum(f.seconds for f in slices)
    return [
        f"phase 2 in all ({len(slices)} slice(s), {seconds:.0f} s): {requests / seconds:.1f}"
        f" requests/s; worst slice p50 {max(f.p50_ms for f in slices):.1f} ms, p95"
        f" {max(f.p95_ms for f in slices):.1f} ms, p99 {max(f.p99_ms for f in slices):.1f} ms;"
        f" errors {sum(f.errors for f in slices)}, timeouts {sum(f.timeouts for f in slices)},"
        f" not 2xx/3xx {sum(f.bad_statuses for f in slices)}, 5xx"
        f" {sum(f.server_errors for f in slices)}"
    ]


# --- the run ----------------------------------------------------------------------------


def machine_load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def gunicorn_start(
    processes: Processes, env: dict[str, str], workers: int
) -> tuple[int, ServerCpu]:
    """Its port, and a counter of the CPU time its workers and their backends use."""
    port = free_port()
    # compose.yaml's web command (sync workers, no access log), on loopback.
    master = processes.start(
        "gunicorn",
        [PYTHON, "-m", "gunicorn", "lakeweb.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers)],
        env,
    )  # fmt: skip
    wait_port(port, 60)
    return port, ServerCpu(master.pid)


def worker_start(processes: Processes, env: dict[str, str]) -> None:
    worker = processes.start(
        "worker",
        [PYTHON, "-m", "celery", "-A", "lakeweb", "worker", "-Q", "default,long,pipelines",
         "--concurrency=1", "--loglevel=INFO"],
        env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in processes.log("worker"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the Celery worker did not start:\n{processes.log('worker')}")
        time.sleep(0.2)


def uploader_make() -> int:
    """The account bench/upload.py's client signs in with: a member (staff must enrol a
    second factor first, as production requires), and a form of one field; the form's id."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from catalog.models import MetadataField, MetadataForm
    from catalog.services import form_version_publish

    user = get_user_model().objects.create_user(
        username="bench@lab.example", email="bench@lab.example", password=PASSWORD
    )
    user.groups.add(Group.objects.get(name="member"))
    form = MetadataForm.objects.create(name="bench upload")
    MetadataField.objects.create(form=form, name="sample", prompt="Sample")
    form_version_publish(form=form)
    return form.pk


def prepare(args: argparse.Namespace, env: dict[str, str]) -> tuple[Targets, int]:
    """Make the database, fill the catalog, write its files; the targets and the upload form."""
    began = time.monotonic()
    recreate_database(env["DATABASE_URL"])
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    setup_django(env["DATABASE_URL"])
    Loader(args.datasets, args.files, big=args.big_dataset_files).load()
    written = files_write()
    form_id = uploader_make()
    from catalog.models import Dataset

    print(
        f"catalog: {Dataset.objects.count():,} datasets, {written:,} files written to the store,"
        f" in {time.monotonic() - began:.0f} s",
        flush=True,
    )
    return targets_make(), form_id


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="length of each phase's load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--gib", type=float, default=2.0, help="size of phase 2's upload")
    parser.add_argument("--datasets", type=int, default=5_000)
    parser.add_argument("--files", type=int, default=20_000, help="files in the catalog")
    parser.add_argument("--big-dataset-files", type=int, default=2_000,
                        help="files of the catalog's one big dataset")  # fmt: skip
    parser.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn sync workers (default 2 x cores + 1)")  # fmt: skip
    parser.add_argument("--timeout", type=int, default=5, help="a request's timeout, seconds")
    parser.add_argument("--wait", type=int, default=1800,
                        help="longest wait for phase 2's upload and backup, seconds")  # fmt: skip
    args = parser.parse_args()
    if not (0 < args.seconds <= 3600 and 0 < args.connections <= 1024 and 0 < args.gib <= 64):
        parser.error("--seconds 1..3600, --connections 1..1024, --gib above 0, at most 64")
    if args.datasets < 2 or args.files < args.big_dataset_files or args.web_workers < 1:
        parser.error("--datasets at least 2; --files at least --big-dataset-files")
    if not shutil.which("wrk"):
        print("wrk is not installed (Debian/Ubuntu: apt-get install wrk); falling back to a"
              " Python threads client, whose figures are labelled as such", flush=True)  # fmt: skip
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DB)
    if urlparse(database_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("DATABASE_URL must point to loopback: this bench drops its database")
    work = Path(tempfile.mkdtemp(prefix="lakeweb-load-"))
    processes = Processes(work)
    # Ctrl-C or a kill: the same clean-up as a normal end.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        cleanup.callback(drop_database, database_url)
        cleanup.callback(processes.stop_all)
        run(args, processes, work, database_url)


def run(args: argparse.Namespace, processes: Processes, work: Path, database_url: str) -> None:
    broker = redis_server(processes, "redis-broker")
    cache = redis_server(processes, "redis-cache", "--maxmemory", "256mb",
                         "--maxmemory-policy", "allkeys-lru")  # fmt: skip
    env = stack_env(work, database_url, broker, cache)
    os.environ.update(env)  # this process's Django: the same database, cache and store
    targets, form_id = prepare(args, env)
    upload_file = make_files(work / "upload", 1, int(args.gib * 1024 * MIB))[0][1]
    port, cpu = gunicorn_start(processes, env, args.web_workers)
    alone = targets_check(port, targets, cpu)
    # Every worker's first requests are slow (imports, templates, connections): not measured.
    warm_args = argparse.Namespace(**{**vars(args), "seconds": 10})
    warm = load_run(port, targets, warm_args, work, cpu)
    print(f"stack: gunicorn, {args.web_workers} sync workers; PostgreSQL; Redis (broker, cache);"
          f" filesystem store; {args.connections} connections for {args.seconds} s,"
          f" timeout {args.timeout} s", flush=True)  # fmt: skip
    print("one request at a time, median wall / server CPU: "
          + ", ".join(f"{kind} {ms:.0f} / {cpu_ms:.0f} ms"
                      for kind, (ms, cpu_ms) in alone.items()))  # fmt: skip
    print(f"warm-up, not counted: {warm.requests} requests in 10 s, {warm.errors} errors")

    print(f"\nphase 1 starts; machine: {machine_load()}", flush=True)
    first = load_run(port, targets, args, work, cpu)
    print("\n".join(first.lines("phase 1: the load alone", p99_target=True)), flush=True)

    worker_start(processes, env)
    from backups.services import backup_request

    print(f"\nphase 2 starts; machine: {machine_load()}", flush=True)
    began = time.monotonic()
    uploading, upload = upload_in_background(f"http://127.0.0.1:{port}", form_id, upload_file)
    backup = backup_request(kind="manual", user=None)
    watching, backed_up = backup_in_background(backup.pk, args.wait)
    # The load lasts as long as the upload and the backup: slices of --seconds until both end.
    slices: list[Figures] = []
    while not slices or (
        (uploading.is_alive() or watching.is_alive()) and time.monotonic() - began < args.wait
    ):
        slices.append(load_run(port, targets, args, work, cpu))
        label = f"phase 2, slice {len(slices)}: the load while a {args.gib:g} GiB upload and a backup run"
        print("\n".join(slices[-1].lines(label, p99_target=False)), flush=True)
    load_ended = time.monotonic() - began
    print("  (phase 2's server CPU includes the upload's requests and the backup's queries)")
    print("\n".join(summary_lines(slices)))
    for thread in (uploading, watching):
        thread.join(max(1.0, args.wait - (time.monotonic() - began)))
    if uploading.is_alive():
        upload.failure = f"not finished after {args.wait} s"
    for done in (upload, backed_up):
        if done.failure:
            print(f"  {done.name} FAILED: {done.failure}")
        else:
            assert done.seconds is not None
            during = "within" if done.seconds <= load_ended else "longer than"
            print(f"  {done.name}: {done.seconds:.1f} s ({done.detail}), {during} the"
                  f" {load_ended:.0f} s of load")  # fmt: skip
    print(f"machine at the end: {machine_load()}")
    if first.server_errors or any(f.server_errors for f in slices):
        print("\n5xx seen; the web server's log:\n" + tail(processes.log("gunicorn")))


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


if __name__ == "__main__":
    main()
