"""Backup benchmark: snapshots, fixity and a whole-lake restore against plain loops, one run.

On each store (S3: moto in server mode, a separate process on a loopback
port, the backup store a bucket of its own on the same endpoint; fs: the
embedded default's folders, the backup store a folder beside them) it builds
a raw dataset (bench/promote.py's: 1,000 files, 2 GiB at --scale 1) with
lakeweb's upload services, then runs each job as a worker does (the job
runner, in a child process of its own, whose peak RSS is read) and measures:

- a full snapshot / a plain loop copying the same objects with the same
  concurrency (BACKUP_CONCURRENCY): boto3 CopyObject asking for the SHA-256
  (S3), or file copies flushed with fsync (fs). Target >= 0.8 (loop time /
  snapshot time);
- a second snapshot with nothing changed: its time as a share of the full
  one (target <= 5 %) and the bytes it copied (target 0);
- a fixity batch over the 2 GiB and its blobs in the backup store /
  bench/fixity.py's ``sha256sum`` (fs) or a boto3 get-and-hash loop with
  FIXITY_CONCURRENCY (S3) over the same objects. Target >= 0.8;
- a snapshot after promoting the dataset (same bytes, new keys): payload
  bytes copied (target 0);
- a whole-lake restore of that snapshot into an empty instance (a fresh
  database, empty buckets or folders) / the same plain loop copying every
  file of the lake from its blob. Target >= 0.8;
- for each job, the worker's peak RSS growth: its peak (VmHWM) at the end
  less its RSS before the job, Django and the stores' clients loaded
  (target < 150 MB).

    .venv/bin/python bench/backup.py --scale 0.05      # 50 files, ~100 MiB
    .venv/bin/python bench/backup.py                   # 2 GiB, S3 then fs
    .venv/bin/python bench/backup.py --storage fs
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fixity import ONE_BATCH, fixity_job, sha256sum  # noqa: E402
from bench.promote import LAYERS, file_sizes, promote, setup_django, source_dataset  # noqa: E402
from bench.upload import KEY, MIB, SECRET, copy_baseline, moto_server  # noqa: E402

OWNER = "bench@lab.example"


# --- the worker: one job in a child process -------------------------------------------


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def stores_warm() -> None:
    """Make the stores and their clients, as a worker holds them before its next job."""
    from lakeweb.storage import layer_store
    from lakeweb.storage.backupstore import backup_store

    for store in [*(layer_store(layer) for layer in LAYERS), backup_store()]:
        getattr(store, "client", None)


def child_job(job_id: str) -> dict[str, Any]:
    """Run a requested job as a worker does; its seconds, result and RSS growth (MB)."""
    import django

    django.setup()
    from lakeweb.jobs.models import Job
    from lakeweb.jobs.runner import job_run

    stores_warm()
    return _timed_job(job_run, job_id, Job)


def _timed_job(job_run: Any, job_id: str, job_model: Any) -> dict[str, Any]:
    before = status_kib("VmRSS")
    started = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):  # where the time goes, on stderr (pyinstrument)
        from pyinstrument import Profiler

        with Profiler(interval=0.001) as profiler:
            job_run(job_id=job_id)
        sys.stderr.write(profiler.output_text(color=False, show_all=False))
    else:
        job_run(job_id=job_id)
    seconds = time.perf_counter() - started
    job = job_model.objects.get(pk=job_id)
    if job.status != "succeeded":
        raise SystemExit(f"the {job.kind} job {job.status}: {job.error}\n{job.log}")
    growth = (status_kib("VmHWM") - before) * 1024 / 1e6  # KiB to MB
    return {"seconds": seconds, "result": job.result, "rss_growth_mb": growth}


def child_restore(snapshot: str) -> dict[str, Any]:
    """A whole-lake restore into this (empty) instance, as `manage.py restore --into-empty`."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from backups.services import restore_request
    from catalog.models import DataFile, Dataset
    from lakeweb.jobs.models import Job
    from lakeweb.jobs.runner import job_run
    from lakeweb.storage import layers_ensure

    layers_ensure()
    stores_warm()
    job = restore_request(snapshot=snapshot, into_empty=True, user=None)
    done = _timed_job(job_run, str(job.pk), Job)
    done["datasets"] = Dataset.objects.filter(status="ready").count()
    done["files"] = DataFile.objects.count()
    return done


def in_child(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if os.environ.get("BENCH_PROFILE"):
        sys.stderr.write(done.stderr[-20000:])
    if done.returncode:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the baselines ---------------------------------------------------------------------


def s3_client(moto_url: str, concurrency: int) -> Any:
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
    return client


def pooled(work: Any, items: list[Any], concurrency: int) -> float:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, items))
    return time.perf_counter() - start


def s3_copies(pairs: list[tuple[str, str, str, str]], moto_url: str, concurrency: int) -> float:
    """CopyObject (asking for the SHA-256) of each (bucket, key) -> (bucket, key)."""
    client = s3_client(moto_url, concurrency)

    def one(pair: tuple[str, str, str, str]) -> None:
        client.copy_object(
            CopySource={"Bucket": pair[0], "Key": pair[1]},
            Bucket=pair[2],
            Key=pair[3],
            ChecksumAlgorithm="SHA256",
        )

    return pooled(one, pairs, concurrency)


def s3_get_and_hash(objects: list[tuple[str, str]], moto_url: str, concurrency: int) -> float:
    """GetObject of each (bucket, key), its body hashed with SHA-256 as it streams in."""
    client = s3_client(moto_url, concurrency)

    def one(item: tuple[str, str]) -> None:
        bucket, key = item
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        while chunk := body.read(8 * MIB):
            digest.update(chunk)

    return pooled(one, objects, concurrency)


# --- one store ------------------------------------------------------------------------


class Lake:
    """Where one store's run keeps its things, and the plain loops that run against them."""

    def __init__(self, kind: str, work: Path, moto_url: str) -> None:
        self.kind, self.work, self.moto_url = kind, work, moto_url

    def copy_loop(self, pairs: list[tuple[str, str, str, str]], concurrency: int) -> float:
        """Copy each (store, key) -> (store, key): S3 server-side, or files with fsync."""
        if self.kind == "s3":
            buckets = self.buckets()
            named = [(buckets[a], k, buckets[b], t) for a, k, b, t in pairs]
            return s3_copies(named, self.moto_url, concurrency)
        files = [(f"{b}/{t}", self.path(a, k)) for a, k, b, t in pairs]
        return copy_baseline(files, self.work / "copies", fsync=True, concurrency=concurrency)

    def hash_loop(self, objects: list[tuple[str, str]], concurrency: int) -> float:
        """Read and hash each (store, key): sha256sum (fs, warmed once), or boto3 (S3)."""
        if self.kind == "s3":
            buckets = self.buckets()
            named = [(buckets[store], key) for store, key in objects]
            return s3_get_and_hash(named, self.moto_url, concurrency)
        files = [self.path(store, key) for store, key in objects]
        sha256sum(files)  # the page cache warm, as fixity finds it after the snapshots
        return sha256sum(files)

    def buckets(self) -> dict[str, str]:
        from django.conf import settings

        return {**settings.S3_BUCKETS, "backups": settings.BACKUP_S3_BUCKET}

    def path(self, store: str, key: str) -> Path:
        from django.conf import settings

        if store == "backups":
            return Path(settings.BACKUP_DIR) / key
        return Path(settings.LAKEWEB_STORAGE_DIR) / store / key

    def empty_instance(self) -> dict[str, str]:
        """The environment of a fresh instance: its database, layers, the same backup store."""
        fresh = self.work / "restored"
        env = {"LAKEWEB_DATA_DIR": str(fresh), "LAKEWEB_STORAGE_DIR": str(fresh / "lake")}
        tag = f"r{time.time_ns() // 10**6 % 10**9}"
        env |= {f"S3_BUCKET_{layer.upper()}": f"{tag}-{layer}" for layer in LAYERS}
        return env


def store_env(kind: str, work: Path) -> dict[str, str]:
    storage = "s3" if kind == "s3" else "filesystem"
    return {
        "LAKEWEB_STORAGE": storage,
        "BACKUP_STORAGE": storage,
        "BACKUP_DIR": str(work / "backups"),
        "BACKUP_S3_BUCKET": f"b{time.time_ns() // 10**6 % 10**9}-backups",
        # Jobs run in the bench's children, as a worker runs them: their
        # messages go nowhere (no broker to wait on).
        "CELERY_BROKER_URL": "memory://",
        **ONE_BATCH,
    }


def snapshot() -> dict[str, Any]:
    from backups.services import backup_request

    backup = backup_request(kind="manual", user=None)
    return in_child("--job", str(backup.job_id))


def measure(kind: str, sizes: list[int], lake: Lake) -> list[str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from backups.services import blob_key
    from catalog.models import DataFile
    from lakeweb.storage import layers_ensure

    layers_ensure()
    owner = get_user_model().objects.get(username=OWNER)
    dataset = source_dataset(sizes, owner)
    keys = list(dataset.files.order_by("path").values_list("storage_key", flat=True))
    copies, reads = settings.BACKUP_CONCURRENCY, settings.FIXITY_CONCURRENCY

    full = snapshot()
    full_loop = lake.copy_loop([("raw", k, "backups", f"baseline/{k}") for k in keys], copies)
    again = snapshot()
    # The batch reads what is due: the raw files and, since the full snapshot, their blobs.
    blobs = {blob_key(sha) for sha in dataset.files.values_list("sha256", flat=True)}
    fixity_loop = lake.hash_loop(
        [("raw", k) for k in keys] + [("backups", b) for b in blobs], reads
    )
    fixity = in_child("--job", str(fixity_job().pk))
    promote(dataset, owner)
    after = snapshot()
    files = list(DataFile.objects.values_list("dataset__layer", "storage_key", "sha256"))
    restore = in_child("--restore", after["result"]["snapshot"], env=lake.empty_instance())
    restore_loop = lake.copy_loop(
        [("backups", blob_key(sha), layer, f"baseline/{key}") for layer, key, sha in files],
        copies,
    )
    return report(
        kind,
        sizes,
        {
            "copies": copies,
            "reads": reads,
            "full": (full, full_loop),
            "again": again,
            "fixity": (fixity, fixity_loop),
            "after": after,
            "restore": (restore, restore_loop, len(files)),
        },
    )


def report(kind: str, sizes: list[int], m: dict[str, Any]) -> list[str]:
    (full, full_loop), again, after = m["full"], m["again"], m["after"]
    fixity, fixity_loop = m["fixity"]
    restore, restore_loop, restored_files = m["restore"]
    copy_loop = {"s3": "boto3 CopyObject loop", "fs": "file copies with fsync"}[kind]
    hash_loop = {"s3": "boto3 get-and-hash loop", "fs": "sha256sum"}[kind]
    jobs = {"full snapshot": full, "no change": again, "fixity": fixity}
    jobs |= {"after promoting": after, "restore": restore}
    return [
        f"[{kind}] dataset: {len(sizes)} files, {sum(sizes) / 1024 / MIB:.3f} GiB; "
        f"copies {m['copies']} at a time, fixity reads {m['reads']}",
        f"[{kind}] full snapshot {full['seconds']:.2f} s "
        f"({full['result']['bytes_new'] / MIB:.1f} MiB copied); {copy_loop} "
        f"{full_loop:.2f} s -> ratio {full_loop / full['seconds']:.2f} (target >= 0.8)",
        f"[{kind}] second snapshot, nothing changed: {again['seconds']:.2f} s = "
        f"{100 * again['seconds'] / full['seconds']:.1f} % of the full one (target <= 5 %), "
        f"{again['result']['bytes_new']} bytes copied (target 0)",
        f"[{kind}] fixity of the dataset {fixity['seconds']:.2f} s "
        f"({fixity['result']['verified']} objects verified: the files and their blobs); "
        f"{hash_loop} of the same objects {fixity_loop:.2f} s "
        f"-> ratio {fixity_loop / fixity['seconds']:.2f} (target >= 0.8)",
        f"[{kind}] snapshot after promoting the dataset: {after['seconds']:.2f} s, "
        f"{after['result']['bytes_new']} payload bytes copied (target 0), "
        f"{after['result']['bytes_reused'] / MIB:.1f} MiB reused",
        f"[{kind}] whole-lake restore into an empty instance {restore['seconds']:.2f} s "
        f"({restore['datasets']} datasets, {restore['files']} files, each verified against "
        f"its SHA-256); {copy_loop} of the same {restored_files} files {restore_loop:.2f} s "
        f"-> ratio {restore_loop / restore['seconds']:.2f} (target >= 0.8)",
        f"[{kind}] worker peak RSS growth (target < 150 MB): "
        + ", ".join(f"{name} +{job['rss_growth_mb']:.0f} MB" for name, job in jobs.items()),
    ]


def run_store(kind: str, scale: float) -> None:
    """One store's whole run, in a process of its own (its own settings and database)."""
    work = Path(tempfile.mkdtemp(prefix=f"lakeweb-backup-{kind}-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        moto_url = cleanup.enter_context(moto_server()) if kind == "s3" else ""
        os.environ.update(store_env(kind, work))
        setup_django(work, moto_url, None)
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_superuser(username=OWNER, email=OWNER)
        print("\n".join(measure(kind, file_sizes(scale), Lake(kind, work, moto_url))))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1,000 files")
    parser.add_argument("--storage", choices=["s3", "fs", "both"], default="both")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--restore", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job or args.restore:
        print(json.dumps(child_job(args.job) if args.job else child_restore(args.restore)))
        return
    if not 0 < args.scale <= 1:
        parser.error("--scale is a fraction: more than 0, at most 1")
    if args.store:
        run_store(args.store, args.scale)
        return
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for kind in ["s3", "fs"] if args.storage == "both" else [args.storage]:
        done = subprocess.run(
            [sys.executable, __file__, "--store", kind, "--scale", str(args.scale)]
        )
        if done.returncode:
            raise SystemExit(done.returncode)
    load = os.getloadavg()
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
