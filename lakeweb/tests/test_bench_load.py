"""bench/load.py's wrk script: the rotation through the four kinds and the status counts.

Real wrk against a small HTTP server on loopback that answers each kind with
another status, so that every count the bench prints is checked against what
the server saw. No timing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.load import Figures, Targets, wrk_parse, wrk_run
from conftest import require_services

# The status each kind's addresses answer: an error of each class the bench counts apart.
STATUS = {"/datasets/": 200, "/datasets/x/": 302, "/datasets/?q=a": 404, "/api/datasets/": 500}


class Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()


@pytest.fixture
def server() -> Iterator[tuple[int, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn's answers allow

        def do_GET(self) -> None:
            credential = self.headers.get("Authorization") or self.headers.get("Cookie") or ""
            with seen.lock:
                seen.requests[(self.path, credential)] += 1
            body = b"ok"
            self.send_response(STATUS.get(self.path, 400))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_wrk_script_rotates_the_kinds_and_counts_each_status(
    server: tuple[int, Seen], tmp_path: Path
) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        require_services("needs wrk (Debian: apt-get install wrk)")
    port, seen = server
    pages = {"Cookie": "sessionid=s", "Host": "127.0.0.1"}
    targets = Targets(
        paths={
            "catalog": ["/datasets/"],
            "dataset page": ["/datasets/x/"],
            "search": ["/datasets/?q=a"],
            "API list": ["/api/datasets/"],
        },
        headers={
            "catalog": pages,
            "dataset page": pages,
            "search": pages,
            "API list": {"Authorization": "Token t", "Host": "127.0.0.1"},
        },
    )
    args = argparse.Namespace(connections=4, seconds=1, timeout=5)

    figures = wrk_run(str(wrk), port, targets, args, tmp_path)

    # Each address asked, each with its kind's credential, and nothing else.
    expected = {
        ("/datasets/", "sessionid=s"),
        ("/datasets/x/", "sessionid=s"),
        ("/datasets/?q=a", "sessionid=s"),
        ("/api/datasets/", "Token t"),
    }
    assert set(seen.requests) == expected
    # In turn: no kind asked much more than another.
    assert max(seen.requests.values()) - min(seen.requests.values()) <= 2 * args.connections
    # wrk's counts are the server's, status by status, from every thread; less the
    # answers still in flight when wrk stopped (at most one per connection).
    by_status: Counter[int] = Counter()
    for (path, _), count in seen.requests.items():
        by_status[STATUS[path]] += count
    assert set(figures.statuses) == {200, 302, 404, 500}
    for status, count in figures.statuses.items():
        assert by_status[status] - args.connections <= count <= by_status[status]
    assert figures.requests == sum(figures.statuses.values())
    assert figures.bad_statuses == figures.statuses[404] + figures.statuses[500]
    assert figures.server_errors == figures.statuses[500] > 0
    assert figures.errors == figures.bad_statuses  # no socket errors, no timeouts here


def test_figures_count_socket_errors_and_timeouts_apart_from_statuses() -> None:
    output = (
        "Running 1s test\n"
        'LOAD {"requests": 10, "duration_us": 2000000, "connect": 1, "read": 2, "write": 0,'
        ' "timeout": 3, "p50_us": 1000, "p95_us": 2000, "p99_us": 3000, "max_us": 4000,'
        ' "statuses": [{"200": 4}, {"200": 1}, {"503": 2}]}\n'
    )

    figures: Figures = wrk_parse(output)

    assert figures.statuses == Counter({200: 5, 503: 2})
    assert (figures.bad_statuses, figures.server_errors, figures.timeouts) == (2, 2, 3)
    assert figures.errors == 1 + 2 + 3 + 2
    assert figures.p99_ms == 3.0
    assert "MISSED" in figures.lines("phase", p99_target=False)[-1]


def test_only_the_load_alone_has_a_latency_target() -> None:
    output = (
        'LOAD {"requests": 10, "duration_us": 2000000, "connect": 0, "read": 0, "write": 0,'
        ' "timeout": 0, "p50_us": 300000, "p95_us": 600000, "p99_us": 700000, "max_us": 800000,'
        ' "statuses": [{"200": 10}]}\n'
    )

    figures: Figures = wrk_parse(output)

    assert figures.lines("phase 1", p99_target=True)[-1].endswith("p99 < 500 ms: MISSED")
    assert figures.lines("phase 2", p99_target=False)[-1].endswith("0 errors, 0 5xx: ok")
