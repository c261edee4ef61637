"""Export benchmark: RO-Crate and BagIt downloads against the plain zip download, same run.

Builds a raw dataset with lakeweb's own upload services (by default 1,000
files, 2 GiB: bench/promote.py's shape), then reads each download the way a
web server sends it (every piece of the response iterator, written nowhere)
and prints, for the zip, the RO-Crate and the BagIt bag:

- seconds and MiB/s, and each export's time against the zip's, and against
  "zip+sha", the zip with every file also SHA-256ed as it is read: the least
  an export that checks each file against its recorded digest must do
  (target: <= 1.25x that; hashing, not the archive, is what costs);
- the largest piece the iterator gave (target: about one read chunk, 1 MiB,
  plus the headers waiting to be sent);
- the growth of the process's RSS while it streamed (sampled every 5 ms, target:
  < 50 MB whatever the dataset's size: nothing is built in memory).

    .venv/bin/python bench/exports.py                # 2 GiB on the filesystem
    .venv/bin/python bench/exports.py --scale 0.05   # ~100 MiB, to try the script
    .venv/bin/python bench/exports.py --storage s3 --postgres
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.promote import DEFAULT_DB, file_sizes, setup_django, source_dataset  # noqa: E402
from bench.upload import MIB, moto_server  # noqa: E402


def rss() -> int:
    """The process's resident set now, in bytes (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssPeak:
    """The highest RSS sampled every 5 ms while the block runs (VmHWM cannot be reset here)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss())

    def __enter__(self) -> RssPeak:
        self.peak = rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def drain(pieces: Iterator[bytes]) -> tuple[float, int, int, int]:
    """Seconds, bytes, largest piece and RSS growth while reading every piece."""
    gc.collect()
    before = rss()
    total = largest = 0
    with RssPeak() as sampled:
        start = time.perf_counter()
        for piece in pieces:
            total += len(piece)
            largest = max(largest, len(piece))
        seconds = time.perf_counter() - start
    return seconds, total, largest, sampled.peak - before


def hashed_zip(*, dataset: Any) -> Iterator[bytes]:
    """The zip download with every file also SHA-256ed as read: the least a checked export does."""
    from dataclasses import replace

    from catalog.selectors.archive import dataset_zip_members, zip_stream
    from lakeweb.storage.base import HashingReader

    @contextlib.contextmanager
    def hashed(open_: Callable[[], Any]) -> Iterator[HashingReader]:
        with open_() as stream:
            yield HashingReader(stream)

    members = dataset_zip_members(dataset=dataset)
    return zip_stream(replace(m, open=lambda m=m: hashed(m.open)) for m in members)


def exports() -> dict[str, Callable[..., Iterator[bytes]]]:
    from catalog.selectors.archive import dataset_zip
    from provenance.exports.bag import dataset_bag
    from provenance.exports.crate import dataset_crate

    return {
        "zip": dataset_zip,
        "zip+sha": hashed_zip,
        "ro-crate": dataset_crate,
        "bagit": dataset_bag,
    }


def measure(kind: str, sizes: list[int], repeat: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from lakeweb.storage import layers_ensure

    with override_settings(LAKEWEB_STORAGE=kind):
        layers_ensure()
        owner = get_user_model().objects.get(username="bench@lab.example")
        dataset: Any = source_dataset(sizes, owner)
        best: dict[str, tuple[float, int, int, int]] = {}
        for _ in range(repeat):  # in turn, keeping the best: other load only adds time
            for name, make in exports().items():
                result = drain(make(dataset=dataset))
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
    return report(kind, dataset, best)


def report(kind: str, dataset: Any, best: dict[str, tuple[float, int, int, int]]) -> list[str]:
    zip_seconds, hashed_seconds = best["zip"][0], best["zip+sha"][0]
    lines = [
        f"[{kind}] {dataset.file_count} files, {dataset.total_size / MIB:.0f} MiB "
        f"(best of the runs, each read whole in this process):"
    ]
    for name, (seconds, total, largest, rss) in best.items():
        ratio = "" if name == "zip" else f", {seconds / zip_seconds:.2f}x the zip"
        if name in ("ro-crate", "bagit"):
            ratio += f", {seconds / hashed_seconds:.2f}x zip+sha (target <= 1.25)"
        lines.append(
            f"[{kind}]   {name:8} {seconds:6.2f} s, {total / MIB / seconds:7.1f} MiB/s{ratio}; "
            f"largest piece {largest / 1024:.0f} KiB; peak RSS +{rss / 1e6:.1f} MB (target < 50 MB)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the files")
    parser.add_argument("--storage", choices=["s3", "filesystem", "both"], default="filesystem")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each export (best kept)")
    parser.add_argument("--postgres", action="store_true", help=f"run on {DEFAULT_DB}")
    args = parser.parse_args()
    if not 0 < args.scale <= 1 or not 1 <= args.repeat <= 10:
        parser.error("--scale is in (0, 1], --repeat in 1..10")
    sizes = file_sizes(args.scale)
    work = Path(tempfile.mkdtemp(prefix="lakeweb-exports-"))
    results: list[str] = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        moto_url = cleanup.enter_context(moto_server())
        setup_django(work, moto_url, DEFAULT_DB if args.postgres else None)
        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        if not users.filter(username="bench@lab.example").exists():
            users.create_superuser(username="bench@lab.example", email="bench@lab.example")
        kinds = ["s3", "filesystem"] if args.storage == "both" else [args.storage]
        for kind in kinds:
            results += measure(kind, sizes, args.repeat)
    print("\n".join(results))


if __name__ == "__main__":
    main()
