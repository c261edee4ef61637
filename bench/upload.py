"""Upload benchmark: lakeweb's upload protocol against a plain baseline, same run.

Starts, on loopback only, an S3 endpoint (moto in server mode) and lakeweb
under gunicorn, both as separate processes, then measures:

1. 1 GiB in 4 files of 256 MiB sent through the upload protocol exactly as
   the page sends it (start, chunks of each file in order, 4 files at a
   time, finish), against boto3 ``upload_file`` of the same files with the
   same concurrency. Target: lakeweb >= 0.8x boto3's throughput.
2. 10,000 files of 4 KiB: lakeweb >= 0.5x boto3's files per second.
3. Peak RSS growth of the web server processes during one 2 GiB file
   upload: < 150 MB.

and the same three on the filesystem storage, where the baseline of 1 and 2
is the work any upload must do for the same requests: bench/sink.py, a bare
WSGI app (no Django) under the same gunicorn settings, driven by the same
client with the same requests (chunk size, batches, concurrency), hashes
each body with SHA-256, writes it in place and ``fdatasync``s it before
answering. Target: lakeweb >= 0.8x that ceiling, for big and small files.
Page-cache copies, copies with fsync and the bare app receiving only are
printed for reference.

    .venv/bin/python bench/upload.py            # the full run (several GiB of temp files)
    .venv/bin/python bench/upload.py --quick    # small sizes, to try the script
    .venv/bin/python bench/upload.py --storage filesystem --cases big,small --repeat 3

Set DATABASE_URL to run lakeweb on PostgreSQL; SQLite in a temp folder otherwise.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests
from boto3.s3.transfer import TransferConfig

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
MIB = 1024 * 1024
CONCURRENCY = 4  # files at a time, as upload.js
WINDOW = 1  # chunks of one file at a time, as upload.js
KEY, SECRET = "bench", "bench-secret"
PASSWORD = "bench passphrase 42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """An S3 endpoint (moto in server mode) on a loopback port for the run; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine, gigabytes held: it may linger
            process.kill()
            process.wait()


def wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listening on {port}")


def gunicorn_command(app: str, port: int) -> list[str]:
    """How the bench serves lakeweb, and the bare apps it is measured against."""
    return [
        PYTHON,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        # as `make run` serves: two processes of four threads
        "--workers",
        "2",
        "--threads",
        "4",
        "--timeout",
        "600",
    ]


class Stack:
    """moto and lakeweb (gunicorn) processes for one storage kind."""

    def __init__(self, storage: str, work: Path, moto_url: str) -> None:
        self.storage, self.work, self.moto_url = storage, work, moto_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        run = f"b{int(time.time() * 1000) % 10**9}"
        self.buckets = {
            layer: f"{run}-{layer}" for layer in ("raw", "processed", "curated", "archive")
        }
        self.env = {
            **os.environ,
            "LAKEWEB_DATA_DIR": str(work / f"data-{storage}"),
            "LAKEWEB_STORAGE": storage,
            "LAKEWEB_STORAGE_DIR": str(work / f"lake-{storage}"),
            "S3_ENDPOINT_URL": moto_url,
            "S3_ACCESS_KEY_ID": KEY,
            "S3_SECRET_ACCESS_KEY": SECRET,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            **{f"S3_BUCKET_{k.upper()}": v for k, v in self.buckets.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            input=stdin,
            text=True,
            capture_output=True,
        ).stdout

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        self.manage("storage_init")
        printed = self.manage("shell", stdin=SETUP_SCRIPT)
        self.form_id = int(printed.split("FORM=")[1].split()[0])
        self.chunk_size = int(printed.split("CHUNK=")[1].split()[0])
        self.process = subprocess.Popen(
            gunicorn_command("lakeweb.wsgi:application", self.port),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def pids(self) -> list[int]:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.process.pid, *kids]

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)


SETUP_SCRIPT = f"""
from django.contrib.auth import get_user_model
from catalog.models import MetadataForm, MetadataField
from catalog.services import form_version_publish
User = get_user_model()
if not User.objects.filter(email="bench@lab.example").exists():
    User.objects.create_superuser(username="bench@lab.example", email="bench@lab.example", password={PASSWORD!r})
form, _ = MetadataForm.objects.get_or_create(name="bench")
MetadataField.objects.get_or_create(form=form, name="sample", defaults={{"prompt": "Sample"}})
form_version_publish(form=form)
print("FORM=" + str(form.pk))
from catalog.services.resumable import chunk_size_for
print("CHUNK=" + str(chunk_size_for(0, layer="raw")))
"""


class Client:
    """Speaks the upload protocol the way static/lakeweb/upload.js does."""

    def __init__(self, base: str, form_id: int) -> None:
        self.base, self.form_id = base, form_id
        self.local = threading.local()
        self.cookies: dict[str, str] = {}
        session = self.session()
        session.get(f"{base}/accounts/login/")
        response = session.post(
            f"{base}/accounts/login/",
            data={
                "login": "bench@lab.example",
                "password": PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/accounts/login/"},
        )
        response.raise_for_status()
        self.cookies = session.cookies.get_dict()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.cookies.update(self.cookies)
        return self.local.session

    def headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.cookies.get("csrftoken", ""), "Referer": self.base + "/"}

    def upload(self, files: list[tuple[str, Path]]) -> str:
        manifest = [{"path": name, "size": path.stat().st_size} for name, path in files]
        response = self.session().post(
            f"{self.base}/datasets/upload/{self.form_id}/start/",
            data={
                "name": "bench",
                "source": "upload",
                "exp0-sample": "x",
                "manifest": json.dumps(manifest),
            },
            headers=self.headers(),
        )
        assert response.status_code == 201, response.text
        status = response.json()
        self.chunk_size = max(f["chunk_size"] for f in status["files"])
        local = dict(files)

        def send(task: dict) -> None:
            if "batch" in task:
                self.send_batch(status["upload"], task["batch"], local)
            else:
                self.send_file(status["upload"], task["file"], local[task["file"]["path"]])

        with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(send, plan(status["files"])))
        response = self.session().post(
            f"{self.base}/datasets/uploads/{status['upload']}/finish/", headers=self.headers()
        )
        assert response.status_code == 200, response.text
        return status["upload"]

    def send_batch(self, upload: str, entries: list[dict], local: dict[str, Path]) -> None:
        """The files' bytes one after another, their ids in the URL, as upload.js sends them."""
        body = b"".join(local[e["path"]].read_bytes() for e in entries)
        response = self.session().post(
            f"{self.base}/datasets/uploads/{upload}/batch/",
            params={"files": ",".join(str(e["id"]) for e in entries)},
            data=body,
            headers={**self.headers(), "Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 200, response.text

    def send_file(self, upload: str, entry: dict, path: Path) -> None:
        """The file's chunks in order, WINDOW in flight, as upload.js sends them."""
        url = f"{self.base}/datasets/uploads/{upload}/files/{entry['id']}/"
        offsets = list(range(0, max(entry["size"], 1), entry["chunk_size"]))
        with concurrent.futures.ThreadPoolExecutor(WINDOW) as pool:
            window = threading.Semaphore(WINDOW)

            def send(offset: int) -> None:
                try:
                    with open(path, "rb") as handle:
                        handle.seek(offset)
                        body = handle.read(entry["chunk_size"])
                    while True:
                        response = self.session().put(
                            url,
                            params={"offset": offset},
                            data=body,
                            headers={**self.headers(), "Content-Type": "application/octet-stream"},
                        )
                        if response.status_code == 409 and response.json()["received"] <= offset:
                            continue  # its turn had not come; the server says to send it again
                        assert response.status_code in (200, 409), response.text
                        return
                finally:
                    window.release()

            futures = []
            for offset in offsets:
                window.acquire()
                futures.append(pool.submit(send, offset))
            for future in futures:
                future.result()


BATCH_FILE, BATCH_BYTES, BATCH_COUNT = 256 * 1024, 2_000_000, 200  # as in upload.js


def plan(entries: list[dict]) -> list[dict]:
    """Group small files into batches the way static/lakeweb/upload.js does."""
    tasks: list[dict] = []
    batch: list[dict] = []
    size = 0
    for entry in entries:
        if 0 < entry["size"] <= BATCH_FILE and entry["received"] == 0:
            if len(batch) >= BATCH_COUNT or size + entry["size"] > BATCH_BYTES:
                tasks.append({"batch": batch})
                batch, size = [], 0
            batch.append(entry)
            size += entry["size"]
        else:
            tasks.append({"file": entry})
    if batch:
        tasks.append({"batch": batch})
    return tasks


def make_files(folder: Path, count: int, size: int) -> list[tuple[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    block = os.urandom(min(size, 64 * MIB)) if size else b""
    for i in range(count):
        path = folder / f"f{i:05d}.bin"
        with open(path, "wb") as out:
            left = size
            while left > 0:
                out.write(block[:left])
                left -= len(block[:left])
        files.append((f"{folder.name}/{path.name}", path))
    return files


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def boto3_baseline(files: list[tuple[str, Path]], moto_url: str, bucket: str) -> float:
    client = boto3.client(
        "s3",
        endpoint_url=moto_url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    config = TransferConfig(max_concurrency=1, multipart_chunksize=8 * MIB)

    def one(item: tuple[str, Path]) -> None:
        client.upload_file(str(item[1]), bucket, item[0], Config=config)

    def run() -> None:
        with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(one, files))

    return timed(run)


def copy_baseline(
    files: list[tuple[str, Path]],
    target: Path,
    *,
    fsync: bool = False,
    concurrency: int = CONCURRENCY,
) -> float:
    """Plain copies; with ``fsync`` each copy is flushed to disk as lakeweb does."""

    def one(item: tuple[str, Path]) -> None:
        dest = target / item[0]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item[1], dest)
        if fsync:
            with open(dest, "rb+") as handle:
                os.fsync(handle.fileno())

    def run() -> None:
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, files))

    return timed(run)


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def peak_rss_growth(stack: Stack, client: Client, files: list[tuple[str, Path]]) -> float:
    pids = stack.pids()
    before = rss_kib(pids)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pids))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        client.upload(files)
    finally:
        done.set()
        sampler.join()
    return (peak - before) * 1024 / 1e6  # KiB to MB, the target's unit


def baseline_time(kind: str, files: list[tuple[str, Path]], moto_url: str, target: Path) -> float:
    if kind == "s3":
        return boto3_baseline(files, moto_url, f"base-{target.name}")
    return copy_baseline(files, target)


class Sink:
    """bench/sink.py under gunicorn exactly as lakeweb is served, speaking the same protocol."""

    def __init__(self, work: Path, chunk_size: int, *, mode: str = "store") -> None:
        self.port = free_port()
        self.folder = work / f"sink-{self.port}"  # beside lakeweb's files: the same disk
        env = {**os.environ, "SINK_DIR": str(self.folder), "SINK_CHUNK_SIZE": str(chunk_size)}
        env["SINK_MODE"] = mode
        self.process = subprocess.Popen(
            gunicorn_command("bench.sink:application", self.port),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)
        self.client = Client(f"http://127.0.0.1:{self.port}", form_id=1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Run:
    """What a case needs: the storage kind, lakeweb and its client, the baselines' ends."""

    kind: str
    stack: Stack
    client: Client
    moto_url: str
    repeat: int
    sink: Sink | None = None

    def best(self, work: Callable[[], object]) -> float:
        """The shortest of ``repeat`` timings: other load on the machine only ever adds."""
        return min(timed(work) for _ in range(self.repeat))

    def pair(self, baseline: Callable[[], object], files: list) -> tuple[float, float]:
        """Best times of the baseline and of lakeweb, measured in turn."""
        base = lake = float("inf")
        for _ in range(self.repeat):
            base = min(base, timed(baseline))
            lake = min(lake, timed(lambda: self.client.upload(files)))
        return base, lake


def case_big(run: Run, files: list) -> str:
    kind, work, total = run.kind, run.stack.work, sum(p.stat().st_size for _, p in files)
    speed = lambda seconds: f"{total / MIB / seconds:.0f} MiB/s"  # noqa: E731
    if kind == "s3":
        base, lake = run.pair(lambda: baseline_time(kind, files, run.moto_url, work / "b"), files)
        return (
            f"[{kind}] {len(files)} x {total // len(files) // MIB} MiB: lakeweb {speed(lake)} "
            f"(chunks of {run.client.chunk_size // MIB} MiB), boto3 upload_file {speed(base)} "
            f"-> ratio {base / lake:.2f} (target >= 0.8)"
        )
    assert run.sink is not None
    base, lake = run.pair(lambda: run.sink.client.upload(files), files)  # type: ignore[union-attr]
    receive = Sink(work, run.client.chunk_size, mode="read")
    try:
        received = run.best(lambda: receive.client.upload(files))
    finally:
        receive.stop()
    copies = run.best(lambda: copy_baseline(files, work / f"copies-big-{time.monotonic_ns()}"))
    synced = run.best(
        lambda: copy_baseline(files, work / f"synced-big-{time.monotonic_ns()}", fsync=True)
    )
    return (
        f"[{kind}] {len(files)} x {total // len(files) // MIB} MiB: lakeweb {speed(lake)} "
        f"(chunks of {run.client.chunk_size // MIB} MiB), {REQUIRED} {speed(base)} "
        f"-> ratio {base / lake:.2f} (target >= 0.8)\n"
        f"[{kind}]   for reference only: the same requests to the bare app receiving only "
        f"{speed(received)} (ratio {received / lake:.2f}); plain file copies (page cache) "
        f"{speed(copies)} (ratio {copies / lake:.2f}); copies flushed with fsync "
        f"{speed(synced)} (ratio {synced / lake:.2f})"
    )


def case_small(run: Run, files: list) -> str:
    kind, work = run.kind, run.stack.work
    rate = lambda seconds: f"{len(files) / seconds:.0f} files/s"  # noqa: E731
    if kind == "s3":
        base, lake = run.pair(lambda: baseline_time(kind, files, run.moto_url, work / "s"), files)
        return (
            f"[{kind}] {len(files)} x 4 KiB: lakeweb {rate(lake)}, boto3 upload_file "
            f"{rate(base)} -> ratio {base / lake:.2f} (target >= 0.5)"
        )
    assert run.sink is not None
    base, lake = run.pair(lambda: run.sink.client.upload(files), files)  # type: ignore[union-attr]
    copies = run.best(lambda: copy_baseline(files, work / f"copies-small-{time.monotonic_ns()}"))
    return (
        f"[{kind}] {len(files)} x 4 KiB: lakeweb {rate(lake)}, {REQUIRED} {rate(base)} "
        f"-> ratio {base / lake:.2f} (target >= 0.8)\n"
        f"[{kind}]   for reference only: plain file copies (page cache) {rate(copies)} "
        f"(ratio {copies / lake:.2f})"
    )


def case_huge(run: Run, files: list) -> str:
    growth = peak_rss_growth(run.stack, run.client, files)
    return (
        f"[{run.kind}] one {files[0][1].stat().st_size // MIB} MiB file: web server peak RSS "
        f"growth {growth:.0f} MB (target < 150 MB)"
    )


REQUIRED = "required work (bare WSGI app: SHA-256, write in place, fdatasync)"
CASES = {"big": case_big, "small": case_small, "huge": case_huge}


def run_storage(
    kind: str, work: Path, moto_url: str, sets: dict[str, list], cases: list[str], repeat: int
) -> list[str]:
    stack = Stack(kind, work, moto_url)
    stack.start()
    sink = Sink(work, stack.chunk_size) if kind == "filesystem" else None
    try:
        run = Run(kind, stack, Client(stack.url, stack.form_id), moto_url, repeat, sink)
        run.client.chunk_size = stack.chunk_size
        return [CASES[case](run, sets[case]) for case in cases]
    finally:
        if sink:
            sink.stop()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    parser.add_argument("--storage", choices=["s3", "filesystem", "both"], default="both")
    parser.add_argument(
        "--cases", default="big,small,huge", help="which of big,small,huge to run (default all)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="time each upload this many times, keep the best"
    )
    args = parser.parse_args()
    scale = 1 / 32 if args.quick else 1
    work = Path(tempfile.mkdtemp(prefix="lakeweb-bench-"))
    results: list[str] = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        moto_url = cleanup.enter_context(moto_server())
        cases = [case for case in args.cases.split(",") if case in CASES]
        shapes = {"big": (4, 256 * MIB), "small": (10_000, 4096), "huge": (1, 2048 * MIB)}
        sets = {
            case: make_files(
                work / case,
                max(1, int(shapes[case][0] * (scale if case == "small" else 1))),
                shapes[case][1] if case == "small" else int(shapes[case][1] * scale),
            )
            for case in cases
        }
        kinds = ["s3", "filesystem"] if args.storage == "both" else [args.storage]
        for kind in kinds:
            results += run_storage(kind, work, moto_url, sets, cases, args.repeat)
    print("\n".join(results))


if __name__ == "__main__":
    main()
