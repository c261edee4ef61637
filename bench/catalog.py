"""Catalog benchmark: search, pages and the API at a million datasets, on PostgreSQL.

Loads 1,000,000 datasets (five metadata fields each, realistic names and
tags) and 5,000,000 files into PostgreSQL, starts lakeweb under gunicorn as
compose.yaml runs it (3 sync workers, a shared Redis cache), and measures over
HTTP from loopback:

- the first catalog page, a text search, a layer + source filter, a
  ``field = value`` filter, page 10,000 of the list (by number and by
  following Next links' keyset), a dataset page with 20,000 files, the API list;
  p50 and p95 over sequential requests on one connection (target p95 < 50 ms),
  and of the CPU time the server's processes spent on each (on a shared
  machine, the figure to compare between runs);
- requests/s on the first catalog page with 16 concurrent connections
  (target >= 200/s), with wrk when installed: served from the results cache
  (what many users opening the catalog get) and with every request rendered;
  the latencies above always miss that cache;
- SQL queries per page (the same for a 5-file and a 20,000-file dataset) and
  each query's plan, flagging any sequential scan of a big table.

    .venv/bin/python bench/catalog.py                 # load (several minutes), then measure
    .venv/bin/python bench/catalog.py --reuse         # measure again on the loaded database
    .venv/bin/python bench/catalog.py --datasets 20000 --files 100000   # a quick try

DATABASE_URL picks the server (default: the local PostgreSQL, database
``lakeweb_bench``, which is dropped and created again unless --reuse), and
CACHE_URL the cache (default: the local Redis, database 14).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/lakeweb_bench"
DEFAULT_CACHE = "redis://127.0.0.1:6379/14"
# The dataset columns the loader writes (the rest keep their defaults or NULL).
DATASET_COLUMNS = (
    "id, name, description, source_id, external_id, layer, owner_id, metadata, form_version_id,"
    " file_count, total_size, manifest_digest, status, failure_reason, storage_prefix, created_at,"
    " sealed_at, search_text, storage_class"
)
BIG_TABLES = {
    "catalog_dataset",
    "catalog_datafile",
    "catalog_datafolder",
    "catalog_dataset_tags",
    "catalog_fieldvaluetally",
}
BIG_DATASET_FILES = 20_000

SOURCES = [
    "Confocal A", "Confocal B", "Lightsheet", "Cryo-EM Krios", "Orbitrap MS", "Plate reader",
    "NMR 600", "Flow cytometer", "Widefield", "Two-photon", "SAXS beamline", "Sequencer NovaSeq",
    "Sequencer MiSeq", "qPCR", "Rheometer", "Calorimeter", "Raman", "FTIR", "AFM", "Upload",
]  # fmt: skip
ORGANISMS = ["HeLa", "Yeast", "E. coli", "Zebrafish", "Drosophila", "Mouse liver", "Arabidopsis",
             "HEK293", "C. elegans", "Xenopus", "iPSC", "Organoid"]  # fmt: skip
ASSAYS = ["time-lapse", "growth curve", "spectra", "stack", "tomogram", "proteome", "RNA-seq",
          "titration", "dose response", "calibration", "survey", "tracking"]  # fmt: skip
WORDS = ["control", "replicate", "pilot", "knockdown", "overexpression", "wild-type", "mutant",
         "heat-shock", "starved", "treated", "untreated", "baseline", "follow-up", "batch"]  # fmt: skip
OPERATORS = [f"{n}" for n in ["alice", "bob", "chen", "dana", "emeka", "farah", "gustav", "hana",
             "ivan", "jun", "kofi", "lena", "mateo", "nadia", "omar", "priya", "quinn", "rosa",
             "sven", "tomas", "uma", "vikram", "wen", "xavier", "yara", "zoe"]]  # fmt: skip
STAINS = ["DAPI", "GFP", "mCherry", "Hoechst", "none"]
LAYERS = ["raw"] * 11 + ["processed"] * 5 + ["curated"] * 3 + ["archive"]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("LAKEWEB_DATA_DIR", tempfile.mkdtemp(prefix="lakeweb-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lakeweb.settings")
    import django

    django.setup()


def recreate_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


# --- loading ----------------------------------------------------------------------


def tsv(*values: object) -> str:
    out = []
    for value in values:
        if value is None:
            out.append("\\N")
        else:
            text = str(value)
            out.append(text.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n"))
    return "\t".join(out) + "\n"


class Loader:
    """Writes the catalog's rows with COPY, the way a year of a busy lab would leave them."""

    def __init__(self, datasets: int, files: int, *, big: int = BIG_DATASET_FILES) -> None:
        """``big``: the files of the one big dataset (in the middle of the catalog)."""
        self.datasets, self.files, self.big = datasets, files, big
        self.rng = random.Random(42)

    def reference_rows(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from catalog.models import FieldType, MetadataField, MetadataForm, Source, Tag
        from catalog.services import form_version_publish

        user_model = get_user_model()
        viewers = Group.objects.get(name="viewer")
        self.owners = []
        for name in OPERATORS:
            user = user_model.objects.create_user(username=f"{name}@lab.example",
                                                  email=f"{name}@lab.example")  # fmt: skip
            user.groups.add(Group.objects.get(name="member"))
            self.owners.append(user.pk)
        viewer = user_model.objects.create_user(username="viewer@lab.example",
                                                email="viewer@lab.example")  # fmt: skip
        viewer.groups.add(viewers)
        self.sources = [
            Source.objects.get_or_create(slug=f"s{i:02}", defaults={"name": name})[0].pk
            for i, name in enumerate(SOURCES)
        ]
        vocabulary = [w.lower() for w in ORGANISMS + ASSAYS + WORDS] + STAINS
        names = sorted({w.replace(" ", "-").replace(".", "") for w in vocabulary})
        names += [f"project-{n:03}" for n in range(200 - len(names))]
        self.tags = [Tag.objects.create(name=name).pk for name in names]
        self.versions = []
        for n in range(5):
            form = MetadataForm.objects.create(name=f"Form {n + 1}")
            specs = [("operator", FieldType.TEXT, ""), ("sample", FieldType.TEXT, ""),
                     ("temperature", FieldType.DECIMAL, ""),
                     ("magnification", FieldType.INTEGER, ""),
                     ("stain", FieldType.CHOICE, "\n".join(STAINS))]  # fmt: skip
            for order, (name, kind, choices) in enumerate(specs):
                MetadataField.objects.create(form=form, order=order, name=name, prompt=name.title(),
                                             field_type=kind, choices=choices)  # fmt: skip
            self.versions.append(form_version_publish(form=form).pk)

    def dataset_rows(self, stage: object) -> list[tuple[uuid.UUID, int, str]]:
        """COPY the datasets into ``stage``; returns (id, file count, layer) of each."""
        rng, now = self.rng, datetime.now(UTC)
        start = now - timedelta(days=3 * 365)
        step = (now - start) / self.datasets
        per = self.files // self.datasets
        extra = self.files - self.big - per * (self.datasets - 1)
        made = []
        with stage.copy(f"COPY bench_stage ({DATASET_COLUMNS}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            buffer = []
            for n in range(self.datasets):
                pk = uuid.UUID(int=rng.getrandbits(128), version=4)
                count = self.big if n == self.datasets // 2 else per + (n < extra)
                organism, assay = rng.choice(ORGANISMS), rng.choice(ASSAYS)
                sample = f"S-{rng.randrange(10**6):06}"
                name = f"{organism} {assay} {sample}"
                word = rng.choice(WORDS)
                description = f"{word.capitalize()} {assay} of {organism}, run {n % 97}."
                created = start + step * n + timedelta(seconds=rng.random())
                experiment = {"operator": rng.choice(OPERATORS), "sample": sample,
                              "temperature": round(rng.uniform(4, 42), 1),
                              "magnification": rng.choice([10, 20, 40, 63, 100]),
                              "stain": rng.choice(STAINS)}  # fmt: skip
                source = rng.choice(self.sources)
                metadata = {"source": f"s{self.sources.index(source):02}",
                            "date": created.date().isoformat(), "version": "1",
                            "experiments": [experiment]}  # fmt: skip
                tags = rng.sample(self.tags, rng.randint(1, 5))
                self.tag_rows.extend((pk, tag) for tag in tags)
                size = count * rng.randrange(10**5, 10**8)
                layer = rng.choice(LAYERS)
                words = " ".join(str(v) for v in experiment.values())
                text = f"{name} EXP-{n:07}\n{' '.join(self.tag_names[t] for t in tags)}\n"
                text += f"{description} s{self.sources.index(source):02} {created.date()} 1 {words}"
                buffer.append(tsv(pk, name, description, source, f"EXP-{n:07}", layer,
                                  rng.choice(self.owners), json.dumps(metadata),
                                  rng.choice(self.versions), count, size, "0" * 64, "ready", "",
                                  f"datasets/{pk}/", created.isoformat(), created.isoformat(),
                                  text.lower(), ""))  # fmt: skip
                made.append((pk, count, layer))
                if len(buffer) >= 20_000:
                    copy.write("".join(buffer))
                    buffer.clear()
            copy.write("".join(buffer))
        return made

    def file_rows(self, cursor: object, made: list[tuple[uuid.UUID, int, str]]) -> None:
        rng = self.rng
        columns = "dataset_id, path, size, sha256, content_type, storage_key, folder"
        folder_columns = "dataset_id, path, parent, file_count, total_size"
        with cursor.copy(f"COPY catalog_datafile ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            buffer: list[str] = []
            for pk, count, _layer in made:
                for i in range(count):
                    folder = (
                        "" if i == 0 else f"frames/{i // 1000:02}" if count > 1000 else "frames"
                    )
                    name = "notes.txt" if i == 0 else f"frame_{i:05}.tif"
                    path = f"{folder}/{name}" if folder else name
                    buffer.append(tsv(pk, path, rng.randrange(10**6), f"{rng.getrandbits(256):064x}",
                                      "image/tiff", f"datasets/{pk}/{path}", folder))  # fmt: skip
                if len(buffer) >= 50_000:
                    copy.write("".join(buffer))
                    buffer.clear()
            copy.write("".join(buffer))
        with cursor.copy(f"COPY catalog_datafolder ({folder_columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for pk, count, _layer in made:
                rows = [tsv(pk, "", "", count, count * 10**6)]
                if count > 1:
                    rows.append(tsv(pk, "frames", "", count - 1, (count - 1) * 10**6))
                if count > 1000:
                    rows += [tsv(pk, f"frames/{k:02}", "frames", 1000, 10**9)
                             for k in range((count - 1) // 1000 + 1)]  # fmt: skip
                copy.write("".join(rows))

    def load(self) -> None:
        from django.db import connection

        from catalog.models import Tag

        self.reference_rows()
        self.tag_names = dict(Tag.objects.values_list("pk", "name"))
        self.tag_rows: list[tuple[uuid.UUID, int]] = []
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor
            saved = drop_secondary_indexes(cursor)
            cursor.execute("SET session_replication_role = replica")  # no FK checks while loading
            cursor.execute("CREATE UNLOGGED TABLE bench_stage (LIKE catalog_dataset)")
            began = time.monotonic()
            made = self.dataset_rows(cursor)
            print(f"  datasets generated and copied: {time.monotonic() - began:.0f} s", flush=True)
            # The vector as services/indexing.py writes it (checked on a sample after).
            vector = (
                "setweight(to_tsvector('simple', split_part(search_text, E'\\n', 1)), 'A')"
                " || setweight(to_tsvector('simple', split_part(search_text, E'\\n', 2)), 'B')"
                " || setweight(to_tsvector('simple', split_part(search_text, E'\\n', 3)), 'C')"
            )
            cursor.execute(
                f"INSERT INTO catalog_dataset ({DATASET_COLUMNS}, search_vector)"  # noqa: S608
                f" SELECT {DATASET_COLUMNS}, {vector} FROM bench_stage"
            )
            cursor.execute("DROP TABLE bench_stage")
            with cursor.copy("COPY catalog_dataset_tags (dataset_id, tag_id) FROM STDIN") as copy:
                copy.write("".join(tsv(pk, tag) for pk, tag in self.tag_rows))
            began = time.monotonic()
            self.file_rows(cursor, made)
            print(f"  files generated and copied: {time.monotonic() - began:.0f} s", flush=True)
            cursor.execute("SET session_replication_role = origin")
            began = time.monotonic()
            restore_indexes(cursor, saved)
            print(f"  indexes built: {time.monotonic() - began:.0f} s", flush=True)
        from catalog.services.indexing import catalog_reindex

        catalog_reindex(search=False, folders=False)
        connection.connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def drop_secondary_indexes(cursor: object) -> list[str]:
    """Drop the big tables' secondary indexes and unique constraints; their DDL to rebuild."""
    tables = tuple(BIG_TABLES)
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE contype = 'u' AND conrelid::regclass::text = ANY(%s)", [list(tables)])  # fmt: skip
    saved = []
    for table, name, definition in cursor.fetchall():  # type: ignore[attr-defined]
        saved.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')  # type: ignore[attr-defined]
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
        " AND indexname NOT LIKE '%%_pkey'", [list(tables)])  # fmt: skip
    for name, definition in cursor.fetchall():  # type: ignore[attr-defined]
        saved.append(definition)
        cursor.execute(f'DROP INDEX "{name}"')  # type: ignore[attr-defined]
    return saved


def restore_indexes(cursor: object, saved: list[str]) -> None:
    cursor.execute("SET maintenance_work_mem = '1GB'")  # type: ignore[attr-defined]
    for statement in saved:
        cursor.execute(statement)  # type: ignore[attr-defined]


def check_search_vectors(sample: int = 50) -> str:
    """The loader's tsvectors hold the lexemes and weights the indexing service writes.

    Positions may differ: PostgreSQL's jsonb keeps keys in its own order, so
    the service reads metadata values in another order than the loader wrote.
    """
    from django.db import connection, transaction

    from catalog.models import Dataset
    from catalog.services.indexing import dataset_search_write

    def lexemes(pk: uuid.UUID) -> list[tuple[str, list[str]]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT lexeme, weights FROM catalog_dataset, unnest(search_vector)"
                " WHERE id = %s ORDER BY lexeme",
                [pk],
            )
            return cursor.fetchall()

    ids = list(Dataset.objects.order_by("?").values_list("pk", flat=True)[:sample])
    same = 0
    for pk in ids:
        with transaction.atomic():
            loaded = lexemes(pk)
            dataset_search_write(dataset=Dataset.objects.prefetch_related("tags").get(pk=pk))
            same += loaded == lexemes(pk)
            transaction.set_rollback(True)
    return f"{same}/{len(ids)} sampled search vectors equal the service's (lexemes, weights)"


# --- measuring --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    # compose.yaml's web command, without the access log.
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "lakeweb.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "3"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


class Http:
    """One client connection; reconnects when the server closes it (sync workers do)."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers, self.conn = port, headers, None

    def get(self, path: str) -> bytes:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                body = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                if response.status != 200:
                    raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
                return body
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def uncached(path: str, n: int) -> str:
    """``path`` with a parameter nothing reads: the catalog's results cache misses."""
    return f"{path}{'&' if '?' in path else '?'}bench={n}"


# A page's address, or for a page whose every request asks something new, the
# address of the n-th request.
Page = str | Callable[[int], str]


def address(page: Page, n: int) -> str:
    return page(n) if callable(page) else page


class ServerCpu:
    """CPU time the server spends: gunicorn's workers and their PostgreSQL backends.

    On a shared machine a request's wall time also counts the time other
    processes held the cores; the CPU time the server's processes used for it
    (``/proc/<pid>/schedstat``, in ns) hardly does, so a change is still seen
    when the machine is busy. Redis's share is left out.
    """

    def __init__(self, master: int) -> None:
        self.master = master
        self.pids: list[int] = []

    def refresh(self) -> None:
        """Find the processes again (after warm-up: each worker then holds its connection)."""
        from django.db import connection

        workers = [pid for pid in _all_pids() if _parent(pid) == self.master]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            backends = [row[0] for row in cursor.fetchall()]
        self.pids = workers + backends

    def nanoseconds(self) -> int:
        total = 0
        for pid in self.pids:
            with contextlib.suppress(OSError, ValueError, IndexError):  # gone since refresh()
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        return total


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[int(len(values) * 0.95) - 1]


def latency(
    client: Http, page: Page, count: int, cpu: ServerCpu
) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50 and p95 (ms) of ``count`` sequential requests, each missing the results cache:
    wall time at the client, and CPU time in the server's processes."""
    for n in range(max(5, count // 10)):
        client.get(uncached(address(page, -n - 1), -n - 1))
    cpu.refresh()
    timings, cpu_times = [], []
    for n in range(count):
        used = cpu.nanoseconds()
        began = time.perf_counter()
        client.get(uncached(address(page, n), n))
        timings.append((time.perf_counter() - began) * 1000)
        cpu_times.append((cpu.nanoseconds() - used) / 1e6)
    return percentiles(timings), percentiles(cpu_times)


WRK_UNCACHED = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", wrk.path .. "?bench=" .. counter .. "-" .. math.random(1e9))
end
"""


def wrk_rate(
    port: int, headers: dict[str, str], path: str, *, conns: int, seconds: float, cached: bool
) -> float | None:
    """Requests/s measured by wrk (a C client: its own CPU stays small), if installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    args = [wrk, "-t2", f"-c{conns}", f"-d{seconds:.0f}s"]
    args += [part for name, value in headers.items() for part in ("-H", f"{name}: {value}")]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_UNCACHED)
    if not cached:
        args += ["-s", script.name]
    url = f"http://127.0.0.1:{port}{path}"
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return float(out.split("Requests/sec:")[1].split()[0])


def throughput(
    port: int, headers: dict[str, str], path: str, *, conns: int, seconds: float
) -> float:
    done = [0] * conns
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        client = Http(port, headers)
        while time.monotonic() < stop:
            client.get(path)
            done[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(conns)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - began)


def plan_nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


def queries_and_plans(
    path: str, user: object, headers: dict[str, str] | None = None
) -> tuple[int, list[str], list[str]]:
    """Run ``path`` in-process: its queries, a one-line plan of each, and big-table full scans."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", **(headers or {}))
    client.force_login(user)
    client.get(uncached(path, "warm"))  # sessions warm, as in the timed runs
    with CaptureQueriesContext(connection) as captured:
        response = client.get(uncached(path, "plan"))  # results rendered, not cached
    assert response.status_code == 200, (path, response.status_code)
    lines, full_scans = [], []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]["Plan"]
            nodes = plan_nodes(plan)
            parts = []
            for node in nodes:
                if "Relation Name" in node:
                    where = node.get("Index Name") or node["Relation Name"]
                    parts.append(f"{node['Node Type']} {where}")
                    if node["Node Type"] == "Seq Scan" and node["Relation Name"] in BIG_TABLES:
                        full_scans.append(node["Relation Name"])
            lines.append(
                f"cost {plan['Total Cost']:>10.0f}: " + "; ".join(parts or [plan["Node Type"]])
            )
    return len(captured.captured_queries), lines, full_scans


def single_words(names: list[str]) -> list[str]:
    return [name.lower() for name in names if " " not in name and "." not in name]


# Two words that each name a tenth of the catalog (an organism, an assay, a word
# of the descriptions), in some 350 pairs: more than the timed requests of a page.
COMMON_PAIRS = [
    f"{first} {second}"
    for group, other in ((ORGANISMS, ASSAYS), (ORGANISMS, WORDS), (ASSAYS, WORDS))
    for first in single_words(group)
    for second in single_words(other)
]


def common_pair_search(n: int) -> str:
    # From the second pair: the first is the search of the page timed before.
    return "/datasets/?" + urlencode({"q": COMMON_PAIRS[(n + 1) % len(COMMON_PAIRS)]})


def measure(args: argparse.Namespace, env: dict[str, str]) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.cache import cache

    from catalog.models import Dataset
    from catalog.selectors import DatasetQuery, dataset_page

    cache.clear()  # nothing from an earlier run (or release): every figure starts cold
    viewer = get_user_model().objects.get(email="viewer@lab.example")
    session = SessionStore()
    session["_auth_user_id"] = str(viewer.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = viewer.get_session_auth_hash()
    session.create()
    cookie = {"Cookie": f"sessionid={session.session_key}", "Host": "127.0.0.1"}
    from lakeweb.tokens.services import api_token_create, api_tokens_of, api_tokens_revoke

    bench_tokens = api_tokens_of(viewer).filter(name="bench/catalog.py")
    api_tokens_revoke(tokens=bench_tokens)  # an earlier run's
    token = api_token_create(user=viewer, name="bench/catalog.py", read_only=True)[1]
    api = {"Authorization": f"Token {token}", "Host": "127.0.0.1"}

    big = Dataset.objects.filter(file_count=BIG_DATASET_FILES).values_list("pk", flat=True)[0]
    small = Dataset.objects.filter(file_count__lt=10).values_list("pk", flat=True)[0]
    # Walk to page 10,000 by keyset the way Next links do, to get its link.
    deep = min(10_000, Dataset.objects.count() // 25 // 2)  # page 10,000 at full size
    cursor_page = dataset_page(query=DatasetQuery(), number=deep - 1)
    deep_cursor = cursor_page.next_cursor
    sample = (
        Dataset.objects.filter(external_id="EXP-0123456").values_list("name", flat=True).first()
    )
    word = (sample or "HeLa time-lapse S-123456").split()[-1].lower()
    pages = [
        ("first catalog page", "/datasets/", cookie),
        ("text search (a sample id)", "/datasets/?" + urlencode({"q": word}), cookie),
        (
            "text search (two common words)",
            "/datasets/?" + urlencode({"q": "hela time-lapse"}),
            cookie,
        ),
        # Each request another pair, so that no count of an earlier request serves it.
        ("two common words, a new pair each", common_pair_search, cookie),
        ("layer + source filter", "/datasets/?layer=processed&source=s07", cookie),
        ("field = value filter", "/datasets/?" + urlencode({"field": "operator=priya"}), cookie),
        (
            "field = value, rare value",
            "/datasets/?" + urlencode({"field": f"sample={word.upper()}"}),
            cookie,
        ),
        (f"page {deep:,} by number", f"/datasets/?page={deep}", cookie),
        (
            f"page {deep:,} by Next link",
            "/datasets/?" + urlencode({"after": deep_cursor, "page": deep}),
            cookie,
        ),
        ("dataset page, 20,000 files", f"/datasets/{big}/", cookie),
        ("dataset page, 5 files", f"/datasets/{small}/", cookie),
        ("dashboard", "/datasets/dashboard/", cookie),
        ("layers page", "/datasets/layers/", cookie),
        ("API list", "/api/datasets/", api),
        ("API search", "/api/datasets/?" + urlencode({"q": word, "layer": "raw"}), api),
    ]
    process, port = start_server(env)
    try:
        cpu = ServerCpu(process.pid)
        print(f"\n{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  target p95 < 50 ms"
              f"   server CPU ms p50 / p95")  # fmt: skip
        rows = []
        chosen = [part for part in args.pages.split(",") if part]
        for label, page, headers in pages:
            if chosen and not any(part in label for part in chosen):
                continue
            path = address(page, 0)
            (p50, p95), (cpu50, cpu95) = latency(Http(port, headers), page, args.requests, cpu)
            wsgi_headers = (
                {"HTTP_AUTHORIZATION": headers["Authorization"]}
                if "Authorization" in headers
                else None
            )
            count, plans, scans = queries_and_plans(path, viewer, wsgi_headers)
            rows.append((label, plans, scans))
            verdict = "ok" if p95 < 50 else "MISSED"
            print(f"{label:34} {p50:8.1f} {p95:8.1f} {count:8}  {verdict:6}             "
                  f"{cpu50:8.1f} / {cpu95:5.1f}", flush=True)  # fmt: skip
        print("\nfirst catalog page, 16 concurrent connections (target >= 200 requests/s):")
        for cached in (True, False):
            rate = wrk_rate(port, cookie, "/datasets/", conns=16, seconds=args.seconds,
                            cached=cached)  # fmt: skip
            client = "wrk"
            if rate is None:  # no wrk: threads of this script, which then share the CPU
                client = "python threads"
                path = "/datasets/" if cached else "/datasets/?bench=0"
                rate = throughput(port, cookie, path, conns=16, seconds=args.seconds)
            how = "results cached (the same page again)" if cached else "every request renders"
            verdict = "ok" if rate >= 200 else "MISSED"
            print(f"  {how:40} {rate:6.0f} requests/s ({client}) {verdict}")
        print("\nquery plans (each SELECT; 'Seq Scan' of a big table would be flagged):")
        for label, plans, scans in rows:
            print(
                f"- {label}: {'FULL SCAN of ' + ', '.join(scans) if scans else 'no full scan of a big table'}"
            )
            for line in plans:
                print(f"    {line}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--seconds", type=float, default=15, help="length of the 16-connection run")
    parser.add_argument("--reuse", action="store_true", help="measure the database loaded before")
    parser.add_argument("--load-only", action="store_true", help="load, then stop")
    parser.add_argument(
        "--pages", default="", help="measure only the pages whose label holds one of these (a,b)"
    )
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DB)
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "LAKEWEB_DATA_DIR": tempfile.mkdtemp(prefix="lakeweb-bench-"), "LOG_LEVEL": "WARNING",
           "CACHE_URL": os.environ.get("CACHE_URL", DEFAULT_CACHE),
           # Each worker keeps its database connection for the whole run, so that
           # the backends whose CPU time is counted stay the same (ServerCpu).
           "DATABASE_CONN_MAX_AGE": "3600"}  # fmt: skip
    os.environ.update({k: env[k] for k in ("LAKEWEB_DATA_DIR", "CACHE_URL")})
    if not args.reuse:
        print(f"loading {args.datasets:,} datasets and {args.files:,} files…", flush=True)
        began = time.monotonic()
        recreate_database(database_url)
        manage("migrate", "--noinput", env=env)
        setup_django(database_url)
        Loader(args.datasets, args.files).load()
        print(f"loaded in {time.monotonic() - began:.0f} s", flush=True)
        if args.load_only:
            return
    else:
        manage("migrate", "--noinput", env=env)
        setup_django(database_url)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM catalog_dataset")
        datasets = cursor.fetchone()[0]
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'catalog_datafile'")
        files = cursor.fetchone()[0]
    print(f"database: {datasets:,} datasets, ~{files:,} files; {check_search_vectors()}")
    measure(args, env)


if __name__ == "__main__":
    main()
