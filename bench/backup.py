"""Backup benchmark: lakeweb's snapshots and restore against plain boto3 copy loops, one run.

On S3 over HTTP (moto in server mode, a separate process on a loopback port),
with the backup store a bucket of its own on the same endpoint, it builds a
raw dataset (bench/promote.py's: 1,000 files, 2 GiB at --scale 1) with
lakeweb's upload services and measures, running each job in this process as
a worker does:

- a full snapshot / a boto3 CopyObject loop over the same objects with the
  same concurrency (BACKUP_CONCURRENCY). Target >= 0.8 (baseline / lakeweb);
- a second snapshot with nothing changed: its time as a share of the first
  (target <= 5 %) and the bytes it copied (target 0);
- a snapshot after promoting the dataset (same bytes, new keys): bytes
  copied (target 0);
- a restore of the promoted dataset (deleted first) / the same boto3 loop;
- the growth of the process's peak RSS during each (target < 150 MB).

    .venv/bin/python bench/backup.py --scale 0.05   # 50 files, ~100 MiB
    .venv/bin/python bench/backup.py                # the full 2 GiB run
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.promote import file_sizes, promote, setup_django, source_dataset  # noqa: E402
from bench.upload import KEY, MIB, SECRET, moto_server  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(work: Any) -> tuple[float, float, Any]:
    """Seconds, growth of the peak RSS (MB), and what ``work`` returned."""
    before, start = peak_rss_mb(), time.perf_counter()
    result = work()
    return time.perf_counter() - start, peak_rss_mb() - before, result


def snapshot() -> Any:
    from backups.services import backup_request
    from lakeweb.jobs.runner import job_run

    backup = backup_request(kind="manual", user=None)
    job_run(job_id=str(backup.job_id))
    backup.refresh_from_db()
    if not backup.complete:
        raise SystemExit(f"the snapshot did not complete: {backup.job.log}")
    return backup


def restore(backup: Any, dataset: Any) -> None:
    from backups.services import restore_request
    from lakeweb.jobs.runner import job_run

    job = restore_request(snapshot=backup.prefix, dataset_ids=[str(dataset.pk)], user=None)
    job_run(job_id=str(job.pk))
    job.refresh_from_db()
    if job.status != "succeeded":
        raise SystemExit(f"the restore {job.status}: {job.error}")


def boto3_loop(pairs: list[tuple[str, str, str, str]], moto_url: str, concurrency: int) -> float:
    """CopyObject (asking for the SHA-256) of each (bucket, key) -> (bucket, key)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=moto_url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(max_pool_connections=max(10, concurrency), read_timeout=600),
    )
    # The backups bucket is Object-Locked: a copy into it names its checksum
    # algorithm as lakeweb's client does (a header, no extra work).
    from lakeweb.storage.s3client import _copy_names_its_checksum

    client.meta.events.register("before-sign.s3.CopyObject", _copy_names_its_checksum)

    def one(pair: tuple[str, str, str, str]) -> None:
        client.copy_object(
            CopySource={"Bucket": pair[0], "Key": pair[1]},
            Bucket=pair[2],
            Key=pair[3],
            ChecksumAlgorithm="SHA256",
        )

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, pairs))
    return time.perf_counter() - start


def run(sizes: list[int], moto_url: str) -> list[str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from catalog.services import dataset_delete
    from lakeweb.storage import layers_ensure

    with override_settings(LAKEWEB_STORAGE="s3", BACKUP_STORAGE="s3"):
        layers_ensure()
        owner = get_user_model().objects.get(username="bench@lab.example")
        dataset = source_dataset(sizes, owner)
        total = sum(sizes)
        raw, backups = settings.S3_BUCKETS["raw"], settings.BACKUP_S3_BUCKET
        concurrency = settings.BACKUP_CONCURRENCY
        full_s, full_rss, full = timed(snapshot)
        keys = list(dataset.files.values_list("storage_key", flat=True))
        base = boto3_loop([(raw, k, backups, f"baseline/{k}") for k in keys], moto_url, concurrency)
        again_s, again_rss, again = timed(snapshot)
        promote(dataset, owner)
        promoted = type(dataset).objects.get(layer="processed")
        _after_s, _after_rss, after = timed(snapshot)
        dataset_delete(dataset=promoted, user=owner)
        restore_s, restore_rss, _ = timed(lambda: restore(after, promoted))
        processed = settings.S3_BUCKETS["processed"]
        back = boto3_loop(
            [(backups, f"baseline/{k}", processed, f"baseline/{k}") for k in keys],
            moto_url,
            concurrency,
        )
    gib = total / 1024 / MIB
    return [
        f"dataset: {len(sizes)} files, {gib:.3f} GiB; copies {concurrency} at a time",
        f"full snapshot {full_s:.2f} s ({full.bytes_copied / MIB:.1f} MiB copied); boto3 "
        f"CopyObject loop {base:.2f} s -> ratio {base / full_s:.2f} (target >= 0.8); "
        f"peak RSS +{full_rss:.0f} MB",
        f"second snapshot, nothing changed: {again_s:.2f} s = {100 * again_s / full_s:.1f} % "
        f"of the full one (target <= 5 %), {again.bytes_copied} bytes copied (target 0); "
        f"peak RSS +{again_rss:.0f} MB",
        f"snapshot after promoting the dataset: {after.bytes_copied} payload bytes copied "
        f"(target 0), {after.bytes_reused / MIB:.1f} MiB reused",
        f"restore of the promoted dataset {restore_s:.2f} s (files copied one at a time, each "
        f"verified); boto3 loop {back:.2f} s -> ratio {back / restore_s:.2f} (target >= 0.8); "
        f"peak RSS +{restore_rss:.0f} MB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1,000 files")
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error("--scale is a fraction: more than 0, at most 1")
    work = Path(tempfile.mkdtemp(prefix="lakeweb-backup-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        moto_url = cleanup.enter_context(moto_server())
        os.environ["BACKUP_S3_BUCKET"] = f"b{time.time_ns() // 10**6 % 10**9}-backups"
        # Jobs run here, as a worker runs them: their messages go nowhere (no broker to wait on).
        os.environ["CELERY_BROKER_URL"] = "memory://"
        setup_django(work, moto_url, None)
        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        if not users.filter(username="bench@lab.example").exists():
            users.create_superuser(username="bench@lab.example", email="bench@lab.example")
        print("\n".join(run(file_sizes(args.scale), moto_url)))


if __name__ == "__main__":
    main()
