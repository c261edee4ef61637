"""Pipeline benchmark: the CSV-to-Parquet pipeline through lakeweb against the same conversion
function called directly on local copies of the same files, in one run.

Writes 500 MiB of CSV (10 files of 50 MiB: integers, decimals, text, yes/no),
stores them as a raw dataset with lakeweb's upload services (not timed), then
measures, each in a fresh child process so each peak RSS is its own:

- direct: ``provenance.pipelines.tables.csv_convert`` over the local copies,
  writing Parquet to a local folder;
- lakeweb: the run a worker does (``job_run`` of a requested pipeline run):
  read through the layer store, convert into staging, store and hash each
  output into processed, seal, record provenance, email. The child loads
  Django and the URLconf before the clock starts, as a worker has after its
  first run.

Target: lakeweb <= 1.25 x direct + 2 s; the worker's peak RSS < 300 MB above
the direct conversion's own.

    .venv/bin/python bench/pipeline.py                  # 500 MiB on the filesystem store
    .venv/bin/python bench/pipeline.py --mib 50         # to try the script
    .venv/bin/python bench/pipeline.py --storage s3     # S3 over HTTP (moto, another process)
    .venv/bin/python bench/pipeline.py --repeat 3       # each side 3 times in turn, best of each
"""

from __future__ import annotations

import argparse
import contextlib
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

from bench.promote import setup_django  # noqa: E402
from bench.upload import MIB, moto_server  # noqa: E402

FILES = 10
ROWS_PER_WRITE = 100_000


def write_csv(path: Path, size: int, seed: int) -> None:
    """A CSV of about ``size`` bytes with typed columns, written by pyarrow in slices."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    words = np.array(["control", "treated", "knockout", "wild type", "unknown"])
    start = 0
    with pacsv.CSVWriter(str(path), _schema()) as writer:
        while path.stat().st_size < size:
            n = ROWS_PER_WRITE
            table = pa.table(
                {
                    "id": np.arange(start, start + n, dtype=np.int64),
                    "sample": [f"S{i:07d}" for i in rng.integers(0, 10**7, n)],
                    "value": rng.normal(10, 3, n).round(6),
                    "count": rng.integers(0, 10**6, n, dtype=np.int64),
                    "flag": rng.integers(0, 2, n).astype(bool),
                    "note": words[rng.integers(0, len(words), n)],
                },
                schema=_schema(),
            )
            writer.write_table(table)
            start += n


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.int64()),
            ("sample", pa.string()),
            ("value", pa.float64()),
            ("count", pa.int64()),
            ("flag", pa.bool_()),
            ("note", pa.string()),
        ]
    )


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: after fork and exec that
    still counts the parent's RSS at the fork, so a child would report its parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6  # KiB ("kB" there) to MB
    return 0.0


def child_direct(folder: Path, out: Path) -> dict[str, float]:
    """Convert every CSV of ``folder`` with the pipeline's own function; time and peak RSS.

    Django is loaded here too (the function's module registers a pipeline), so
    the two peaks differ by what lakeweb's run adds, not by Django itself.
    """
    import django

    django.setup()
    from provenance.pipelines.tables import csv_convert

    out.mkdir(parents=True, exist_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    for path in sorted(folder.glob("*.csv")):
        with path.open("rb") as source:
            csv_convert(
                source, str(out / f"{path.stem}.parquet"), delimiter=",", compression="zstd"
            )
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rss_mb": peak_rss_mb(),
    }


def child_lakeweb(run_id: str) -> dict[str, float]:
    """Run a requested pipeline run as a worker does; time and peak RSS."""
    import django

    django.setup()
    from django.urls import get_resolver

    from lakeweb.jobs.runner import job_run
    from provenance.models import PipelineRun

    run = PipelineRun.objects.get(pk=run_id)
    # A worker imports the URLconf once, for its first email's link; not per run.
    get_resolver().url_patterns  # noqa: B018
    before = peak_rss_mb()  # Django and the app loaded: what any worker holds anyway
    started, cpu = time.perf_counter(), time.process_time()
    if os.environ.get("BENCH_PROFILE"):  # where the time goes, on stderr
        import cProfile
        import pstats

        cProfile.runctx("job_run(job_id=run.job_id)", globals(), locals(), "/dev/shm/bench.prof")
        pstats.Stats("/dev/shm/bench.prof", stream=sys.stderr).sort_stats("cumulative").print_stats(
            30
        )
    else:
        job_run(job_id=run.job_id)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    run.refresh_from_db()
    run.job.refresh_from_db()
    if run.job.status != "succeeded":
        raise SystemExit(f"the run {run.job.status}: {run.job.error}")
    return {"seconds": seconds, "cpu": cpu, "rss_mb": peak_rss_mb(), "rss_loaded_mb": before}


def _child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if os.environ.get("BENCH_PROFILE"):
        sys.stderr.write(done.stderr[-12000:])
    if done.returncode:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(work: Path, mib: int) -> tuple[Path, Any]:
    """The local CSVs and the same files as a raw dataset."""
    from django.contrib.auth import get_user_model

    from catalog.models import Source
    from catalog.services import (
        DatasetDraft,
        dataset_file_store,
        dataset_upload_finish,
        dataset_upload_start,
    )
    from lakeweb.storage import layers_ensure

    local = work / "csv"
    local.mkdir()
    for n in range(FILES):
        write_csv(local / f"table{n:02}.csv", mib * MIB // FILES, seed=n)
    layers_ensure()
    users = get_user_model().objects
    owner = users.filter(username="bench@lab.example").first() or users.create_superuser(
        username="bench@lab.example", email="bench@lab.example"
    )
    source = Source.objects.get_or_create(slug="upload", defaults={"name": "Upload"})[0]
    draft = DatasetDraft(owner=owner, name="Pipeline bench", source=source, experiments=[])
    dataset = dataset_upload_start(draft=draft)
    for path in sorted(local.glob("*.csv")):
        with path.open("rb") as stream:
            dataset_file_store(dataset=dataset, path=path.name, stream=stream)
    return local, dataset_upload_finish(dataset=dataset, actor=owner)


def run_request(dataset: Any) -> str:
    """A run of the pipeline on the dataset, requested as a member does (not timed)."""
    from provenance.pipelines.requests import pipeline_run_request

    run = pipeline_run_request(
        user=dataset.owner, pipeline="tables.csv_to_parquet", inputs=[dataset.pk], parameters={}
    )
    return str(run.pk)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=500, help="MiB of CSV in all (default 500)")
    parser.add_argument("--storage", choices=["filesystem", "s3"], default="filesystem")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time each side N times, in turn, and keep the best of each: other load on a "
        "shared machine only adds time (default 1)",
    )
    parser.add_argument(
        "--database",
        help="DATABASE_URL of a PostgreSQL database to use (else SQLite in a temp folder)",
    )
    parser.add_argument("--child-direct", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-lakeweb", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_direct:
        print(json.dumps(child_direct(Path(args.child_direct[0]), Path(args.child_direct[1]))))
        return
    if args.child_lakeweb:
        print(json.dumps(child_lakeweb(args.child_lakeweb)))
        return
    if not 10 <= args.mib <= 10_000:
        parser.error("--mib: from 10 to 10000")
    if not 1 <= args.repeat <= 10:
        parser.error("--repeat: from 1 to 10")
    work = Path(tempfile.mkdtemp(prefix="lakeweb-pipeline-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        moto_url = cleanup.enter_context(moto_server()) if args.storage == "s3" else ""
        os.environ["LAKEWEB_STORAGE"] = args.storage
        os.environ["PIPELINE_STAGING_DIR"] = str(work / "staging")
        setup_django(work, moto_url or "http://127.0.0.1:9", args.database)
        local, dataset = prepare(work, args.mib)
        directs, lakewebs = [], []
        for _ in range(args.repeat):
            directs.append(_child("--child-direct", str(local), str(work / "direct")))
            shutil.rmtree(work / "direct")
            lakewebs.append(_child("--child-lakeweb", run_request(dataset)))
    report(args, best(directs), best(lakewebs))


def best(runs: list[dict[str, float]]) -> dict[str, Any]:
    """The fastest of the runs, with the highest peak RSS any of them had."""
    fastest: dict[str, Any] = dict(min(runs, key=lambda run: run["seconds"]))
    fastest["rss_mb"] = max(run["rss_mb"] for run in runs)
    fastest["times"] = [round(run["seconds"], 1) for run in runs]
    return fastest


def report(args: Any, direct: dict[str, Any], lakeweb: dict[str, Any]) -> None:
    bound = 1.25 * direct["seconds"] + 2
    above = lakeweb["rss_mb"] - direct["rss_mb"]
    print(
        f"CSV to Parquet, {args.mib} MiB in {FILES} files, {args.storage} store, "
        f"best of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"  direct (csv_convert on local copies): {direct['seconds']:.1f} s "
        f"(runs: {direct['times']}; CPU {direct['cpu']:.1f} s)"
    )
    print(
        f"  lakeweb (pipeline run as a worker does it): {lakeweb['seconds']:.1f} s "
        f"-> ratio {lakeweb['seconds'] / direct['seconds']:.2f}; "
        f"target <= 1.25 x direct + 2 s = {bound:.1f} s: "
        f"{'met' if lakeweb['seconds'] <= bound else 'NOT met'}"
    )
    server = ", not counting the S3 server's own" if args.storage == "s3" else ""
    print(f"    (runs: {lakeweb['times']}; CPU {lakeweb['cpu']:.1f} s in the worker{server})")
    print(
        f"  peak RSS: direct {direct['rss_mb']:.0f} MB, worker {lakeweb['rss_mb']:.0f} MB "
        f"({lakeweb['rss_loaded_mb']:.0f} MB with Django loaded, before the run) -> "
        f"{above:.0f} MB above the conversion's own (target < 300 MB): "
        f"{'met' if above < 300 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
