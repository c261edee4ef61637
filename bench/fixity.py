"""Fixity benchmark: a fixity batch over a dataset against ``sha256sum`` of the same files.

Builds a raw dataset (default 1,000 files, 2 GiB, the sizes bench/promote.py
uses) on the embedded default (folders) with lakeweb's upload services, then
measures, with the files in the page cache for both (each is run once to warm
it, then timed):

- ``sha256sum`` over every file of the layer folder (one process);
- one fixity batch taking the whole dataset, run as a worker runs it
  (job runner, FIXITY_CONCURRENCY reads, each outcome written to the database).

Prints both times, both throughputs and the ratio sha256sum time / fixity
time (target >= 0.8: fixity at least 80 % of sha256sum's speed).

    .venv/bin/python bench/fixity.py               # 2 GiB
    .venv/bin/python bench/fixity.py --scale 0.05  # ~100 MiB: to try the script
    .venv/bin/python bench/fixity.py --postgres    # the local lakeweb_bench database
"""

from __future__ import annotations

import argparse
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

from bench.promote import DEFAULT_DB, file_sizes, setup_django, source_dataset  # noqa: E402

MIB = 1024 * 1024
# One batch takes every file: a batch's interval as long as the cycle.
ONE_BATCH = {"FIXITY_INTERVAL_MINUTES": str(14 * 24 * 60), "FIXITY_CYCLE_DAYS": "14"}


def sha256sum(files: list[Path]) -> float:
    started = time.perf_counter()
    tool = shutil.which("sha256sum")
    assert tool, "sha256sum (coreutils) is needed for the baseline"
    subprocess.run([tool, *map(str, files)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def fixity_job() -> Any:
    """A requested fixity batch with every file and backup blob due again (with
    ONE_BATCH in the environment, the batch takes them all)."""
    from backups.fixity import FIXITY_KIND
    from backups.fixity_status import fixity_request
    from backups.models import Blob
    from catalog.models import DataFile

    DataFile.objects.update(verified_at=None)
    Blob.objects.update(verified_at=None)
    return fixity_request(kind=FIXITY_KIND, user=None)


def fixity_batch() -> tuple[float, dict]:
    from lakeweb.jobs.runner import job_run

    job = fixity_job()
    started = time.perf_counter()
    job_run(job_id=str(job.pk))
    took = time.perf_counter() - started
    job.refresh_from_db()
    assert job.status == "succeeded", job.log + job.error
    return took, job.result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lakeweb-fixity-bench-"))
    os.environ.update(ONE_BATCH)
    setup_django(work, "", DEFAULT_DB if args.postgres else None)
    from django.contrib.auth import get_user_model

    from lakeweb.storage import layers_ensure

    layers_ensure()
    users = get_user_model().objects
    owner = users.filter(username="fixity-bench@lab.example").first() or users.create_superuser(
        username="fixity-bench@lab.example", email="fixity-bench@lab.example"
    )
    sizes = file_sizes(args.scale)
    dataset = source_dataset(sizes, owner)
    folder = work / "lake" / "raw" / dataset.storage_prefix
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    assert len(files) == len(sizes)

    sha256sum(files)  # warm the page cache for both
    baseline = sha256sum(files)
    fixity_batch()
    took, result = fixity_batch()
    assert result["verified"] == len(files) and result["failures"] == 0, result

    print(f"files: {len(files):,}, {total / MIB:,.0f} MiB")
    print(f"sha256sum: {baseline:.2f} s ({total / MIB / baseline:,.0f} MiB/s)")
    print(f"fixity:    {took:.2f} s ({total / MIB / took:,.0f} MiB/s)")
    print(f"ratio sha256sum time / fixity time: {baseline / took:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
