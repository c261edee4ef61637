"""Promotion benchmark: lakeweb's promotion against plain copies of the same files, same run.

Builds a raw dataset of 1,000 files, 2 GiB in all (960 small files of
4 KiB to ~1 MiB and 40 of 40 MiB), with lakeweb's own upload services, then
promotes it to processed the way a worker does and measures, on each store:

- S3 over HTTP (moto in server mode, a separate process on a loopback
  port): the promotion's time against a plain boto3 loop that copies the
  same objects server-side (CopyObject, asking S3 for the SHA-256 a
  promotion needs to verify each copy) with the same concurrency.
  Target: ratio <= 1.2. Also the object bytes the worker read during the
  promotion (every GetObject answer's length, counted by an event hook on
  every boto3 client of the process). Target: 0, S3 copies server-side.
- the filesystem: the promotion's time against plain copies of the same
  files flushed with fsync, with the same concurrency; and the bytes the
  worker process read (/proc/self/io ``rchar``: files and database).

The concurrency lakeweb used is the most copies seen in flight at once.

    .venv/bin/python bench/promote.py                # the full run (2 GiB per store)
    .venv/bin/python bench/promote.py --scale 0.05   # 50 files, ~100 MiB: to try the script
    .venv/bin/python bench/promote.py --storage s3 --postgres

SQLite in a temp folder, or with --postgres the local PostgreSQL database
``lakeweb_bench`` (created when missing, never dropped: bench/catalog.py
keeps its data there).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.upload import KEY, MIB, SECRET, copy_baseline, moto_server  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/lakeweb_bench"
LAYERS = ("raw", "processed", "curated", "archive")
BIG_FILES, BIG_SIZE, SMALL_FILES = 40, 40 * MIB, 960
SMALL_TOTAL = 2048 * MIB - BIG_FILES * BIG_SIZE  # so that the dataset is 2 GiB


def file_sizes(scale: float) -> list[int]:
    """The dataset's file sizes: many small ones (seeded), some of 40 MiB."""
    rng = random.Random(42)
    mean = SMALL_TOTAL // SMALL_FILES
    small = [rng.randint(4096, 2 * mean - 4096) for _ in range(max(1, round(SMALL_FILES * scale)))]
    return small + [BIG_SIZE] * max(1, round(BIG_FILES * scale))


def content(n: int, size: int, block: bytes) -> bytes:
    """Distinct bytes for each file, cheap to make: a header, then random bytes."""
    head = f"file {n}\n".encode()
    body = block[: size - len(head)] if size > len(block) // 2 else os.urandom(size - len(head))
    return head + body


# --- counting what the worker does ---------------------------------------------------


class Meter:
    """Copies in flight (their peak) and object bytes read, while a promotion runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.peak = self.object_bytes = 0

    def copy_started(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def copy_ended(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def got_object(self, parsed: dict[str, Any], **_kwargs: Any) -> None:
        with self.lock:
            self.object_bytes += int(parsed.get("ContentLength") or 0)


METER = Meter()


def count_object_reads() -> None:
    """Hook every boto3 client this process makes: each GetObject adds its length."""
    import botocore.session

    create_client = botocore.session.Session.create_client

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("after-call.s3.GetObject", METER.got_object)
        return client

    botocore.session.Session.create_client = counted  # type: ignore[method-assign]


@contextmanager
def copies_counted() -> Iterator[None]:
    """Count the stores' copies in flight, whichever code calls them."""
    from lakeweb.storage.filesystem import FilesystemLayerStore
    from lakeweb.storage.s3 import S3LayerStore

    originals = {cls: cls.copy_to for cls in (FilesystemLayerStore, S3LayerStore)}

    def wrap(copy_to: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            METER.copy_started()
            try:
                return copy_to(*args, **kwargs)
            finally:
                METER.copy_ended()

        return counted

    for cls, copy_to in originals.items():
        cls.copy_to = wrap(copy_to)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, copy_to in originals.items():
            cls.copy_to = copy_to  # type: ignore[method-assign]


def rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


# --- lakeweb -----------------------------------------------------------------------


def setup_django(work: Path, moto_url: str, database_url: str | None) -> None:
    run = f"p{time.time_ns() // 10**6 % 10**9}"  # bucket names: lowercase letters and digits
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "lakeweb.settings",
            "LAKEWEB_DATA_DIR": str(work / "data"),
            "LAKEWEB_STORAGE_DIR": str(work / "lake"),
            "S3_ENDPOINT_URL": moto_url,
            "S3_ACCESS_KEY_ID": KEY,
            "S3_SECRET_ACCESS_KEY": SECRET,
            "S3_READ_TIMEOUT": "600",  # as a worker's: a server-side copy answers when done
            "LOG_LEVEL": "WARNING",
            **{f"S3_BUCKET_{layer.upper()}": f"{run}-{layer}" for layer in LAYERS},
        }
    )
    if database_url:
        os.environ["DATABASE_URL"] = database_url
        create_database(database_url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def create_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def source_dataset(sizes: list[int], owner: Any) -> Any:
    """A ready raw dataset stored through lakeweb's upload services, 4 files at a time."""
    from django.db import connection

    from catalog.models import Source
    from catalog.services import (
        DatasetDraft,
        dataset_file_store,
        dataset_upload_finish,
        dataset_upload_start,
    )

    source = Source.objects.get_or_create(slug="upload", defaults={"name": "Upload"})[0]
    draft = DatasetDraft(owner=owner, name="Promotion bench", source=source, experiments=[])
    dataset = dataset_upload_start(draft=draft)
    block = os.urandom(BIG_SIZE)

    def store(n: int) -> None:
        path = f"{'big' if sizes[n] >= MIB else 'small'}/{n // 100:02}/f{n:04}.bin"
        data = io.BytesIO(content(n, sizes[n], block))
        try:
            dataset_file_store(dataset=dataset, path=path, stream=data)
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(store, range(len(sizes))))
    return dataset_upload_finish(dataset=dataset, actor=owner)


def _run_promotion(promotion: Any) -> None:
    """Run a requested promotion as a worker does, on the job runner once it exists."""
    try:
        from lakeweb.jobs.runner import job_run
    except ImportError:
        from catalog.services import promotion_run

        promotion_run(promotion_id=str(promotion.pk))
    else:
        job_run(job_id=str(promotion.job_id))


def promote(dataset: Any, owner: Any) -> float:
    """Seconds the promotion took; it must have copied every file."""
    from catalog.services import dataset_promote_request

    promotion = dataset_promote_request(dataset=dataset, user=owner)
    with copies_counted():
        start = time.perf_counter()
        _run_promotion(promotion)
        seconds = time.perf_counter() - start
    promotion = type(promotion).objects.get(pk=promotion.pk)
    copied = promotion.target.files.count() if promotion.target else 0
    if promotion.status != "succeeded" or copied != dataset.file_count:
        raise SystemExit(f"the promotion {promotion.status} with {copied} files copied")
    return seconds


# --- baselines ---------------------------------------------------------------------


def boto3_copies(keys: list[str], moto_url: str, concurrency: int) -> float:
    """CopyObject of each object, raw bucket to processed, ``concurrency`` at a time."""
    import boto3
    from botocore.config import Config
    from django.conf import settings

    client = boto3.client(
        "s3",
        endpoint_url=moto_url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(max_pool_connections=max(10, concurrency), read_timeout=600),
    )
    raw, processed = settings.S3_BUCKETS["raw"], settings.S3_BUCKETS["processed"]

    def one(key: str) -> None:
        client.copy_object(
            CopySource={"Bucket": raw, "Key": key},
            Bucket=processed,
            Key=f"baseline/{key}",
            ChecksumAlgorithm="SHA256",
        )

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, keys))
    return time.perf_counter() - start


def file_copies(keys: list[str], work: Path, concurrency: int) -> float:
    from django.conf import settings

    raw = Path(settings.LAKEWEB_STORAGE_DIR) / "raw"
    files = [(key, raw / key) for key in keys]
    return copy_baseline(files, work / "copies", fsync=True, concurrency=concurrency)


# --- the run -----------------------------------------------------------------------


def measure(kind: str, sizes: list[int], work: Path, moto_url: str) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from lakeweb.storage import layers_ensure

    with override_settings(LAKEWEB_STORAGE=kind):
        layers_ensure()
        owner = get_user_model().objects.get(username="bench@lab.example")
        dataset = source_dataset(sizes, owner)
        keys = list(dataset.files.values_list("storage_key", flat=True))
        METER.peak = METER.object_bytes = 0
        read_before = rchar()
        lake = promote(dataset, owner)
        read = rchar() - read_before
        concurrency = METER.peak or 1
        if kind == "s3":
            base = boto3_copies(keys, moto_url, concurrency)
        else:
            base = file_copies(keys, work, concurrency)
    return report(kind, sizes, lake, base, concurrency, read)


def report(
    kind: str, sizes: list[int], lake: float, base: float, concurrency: int, read: int
) -> list[str]:
    small = [s for s in sizes if s < MIB]
    shape = (
        f"{len(sizes)} files, {sum(sizes) / 1024 / MIB:.2f} GiB "
        f"({len(small)} of {min(small) // 1024}-{max(small) // 1024} KiB, "
        f"{len(sizes) - len(small)} of {BIG_SIZE // MIB} MiB)"
    )
    baseline = {
        "s3": "boto3 CopyObject loop (S3 computes the SHA-256)",
        "filesystem": "plain copies with fsync",
    }[kind]
    lines = [
        f"[{kind}] promotion of {shape}: lakeweb {lake:.1f} s, copying {concurrency} at a "
        f"time (the most seen in flight); {baseline}, {concurrency} at a time, {base:.1f} s "
        f"-> ratio {lake / base:.2f} (target <= 1.2)"
    ]
    if kind == "s3":
        lines.append(
            f"[{kind}]   object bytes the worker read during the promotion (GetObject): "
            f"{METER.object_bytes / MIB:.1f} MiB (target 0: S3 copies server-side)"
        )
    else:
        lines.append(
            f"[{kind}]   bytes the worker process read during the promotion (rchar, "
            f"files and database): {read / MIB:.0f} MiB (a copy on disk reads each file)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the dataset's files (default 1)"
    )
    parser.add_argument("--storage", choices=["s3", "filesystem", "both"], default="both")
    parser.add_argument(
        "--postgres", action="store_true", help=f"run lakeweb on {DEFAULT_DB} (else SQLite)"
    )
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error("--scale is a fraction: more than 0, at most 1")
    sizes = file_sizes(args.scale)
    work = Path(tempfile.mkdtemp(prefix="lakeweb-promote-"))
    results: list[str] = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        moto_url = cleanup.enter_context(moto_server())
        count_object_reads()
        setup_django(work, moto_url, DEFAULT_DB if args.postgres else None)
        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        if not users.filter(username="bench@lab.example").exists():
            users.create_superuser(username="bench@lab.example", email="bench@lab.example")
        kinds = ["s3", "filesystem"] if args.storage == "both" else [args.storage]
        for kind in kinds:
            results += measure(kind, sizes, work, moto_url)
    print("\n".join(results))


if __name__ == "__main__":
    main()
