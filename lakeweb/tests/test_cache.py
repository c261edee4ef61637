"""A cache outage is not a site outage: lakeweb.cache.FailSoftRedisCache on a real Redis.

Each test starts a redis-server of its own on a free loopback port (nothing
on disk) and stops, freezes (SIGSTOP) or restarts it; the shared Redis other
tests and engineers use is never touched.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD, _free_port, _wait_for_port, require_services
from lakeweb.cache import _local

pytestmark = pytest.mark.django_db

RETRY_AFTER = 1  # seconds the backend leaves a failed Redis alone, shortened for the tests
QUICK = 3  # seconds a page may take while the cache is down


class RedisServer:
    """A redis-server on a loopback port that a test can stop, freeze and start again."""

    def __init__(self, executable: str, folder: Path) -> None:
        self.executable, self.folder = executable, folder
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.executable, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a frozen process cannot exit
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self) -> None:
        """Still accepts connections (the kernel does), never answers: a stalled Redis."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stored_keys(self) -> list[bytes]:
        import redis

        with redis.Redis(port=self.port, socket_timeout=2) as client:
            return client.keys("*")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        require_services("no redis-server on PATH (apt-get install redis-server)")
    server = RedisServer(executable, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_cache(settings, redis_server: RedisServer) -> RedisServer:
    """The default cache and cached_db sessions on this test's own Redis, as with CACHE_URL."""
    settings.CACHES = {
        "default": {
            "BACKEND": "lakeweb.cache.FailSoftRedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"RETRY_AFTER": RETRY_AFTER},
        }
    }
    settings.CACHE_URL = redis_server.url
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    _local.clear()  # rate limits counted during an earlier test's outage
    return redis_server


def timed_get(client: Client, url: str):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def log_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_pages_and_login_answer_quickly_while_the_cache_is_down(member, redis_cache) -> None:
    catalog, login_page = reverse("catalog:dataset_list"), reverse("account_login")
    client = Client()
    assert log_in(client, member.email).status_code == 302
    assert client.get(catalog).status_code == 200
    assert Client().get(login_page).status_code == 200
    cached = client.session.cache_key
    assert cache.get(cached) is not None, "the session is read from the cache"

    redis_cache.stop()
    for who, url in ((client, catalog), (client, catalog), (Client(), login_page)):
        response, seconds = timed_get(who, url)
        assert response.status_code == 200 and seconds < QUICK, (url, seconds)
    assert client.get(catalog).wsgi_request.user == member, "the session came from the database"
    fresh = Client()
    started = time.monotonic()
    assert log_in(fresh, member.email).status_code == 302
    assert time.monotonic() - started < QUICK
    assert fresh.get(catalog).wsgi_request.user == member

    redis_cache.start()  # empty, on the same port
    time.sleep(RETRY_AFTER + 0.1)
    assert client.get(catalog).status_code == 200
    assert cache.get(cached) is not None, "the session is in the cache again"
    assert any(key.endswith(cached.encode()) for key in redis_cache.stored_keys())


def test_logout_while_the_cache_stalls_is_not_undone_when_it_answers_again(
    member, redis_cache
) -> None:
    catalog = reverse("catalog:dataset_list")
    client = Client()
    log_in(client, member.email)
    assert client.get(catalog).wsgi_request.user == member  # the session is now in Redis
    old_cookie = client.cookies["sessionid"].value

    redis_cache.freeze()
    started = time.monotonic()
    client.post(reverse("account_logout"))  # deletes the session row; the cache is unreachable
    assert time.monotonic() - started < QUICK
    redis_cache.thaw()  # answers again, still holding the logged-in session
    time.sleep(RETRY_AFTER + 0.1)

    replay = Client()
    replay.cookies["sessionid"] = old_cookie
    response = replay.get(catalog)
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    assert not any(key.endswith(old_cookie.encode()) for key in redis_cache.stored_keys())


def test_login_rate_limit_still_holds_while_the_cache_is_down(member, redis_cache) -> None:
    redis_cache.stop()
    for _ in range(5):  # allauth's default: 5 failed logins per account in 5 minutes
        response = log_in(Client(), member.email, "wrong password")
        assert "Too many" not in response.content.decode()
    response = log_in(Client(), member.email)
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()


def test_a_down_cache_reads_as_misses_and_writes_nothing(redis_cache) -> None:
    redis_cache.stop()
    assert cache.get("k") is None and cache.get("k", "default") == "default"
    assert cache.set("k", 1) is None and cache.get("k") is None
    assert cache.add("k", 1) is True  # as if stored: add() used as a lock does not spin
    assert cache.delete("k") is False and cache.has_key("k") is False
    assert cache.touch("k") is False
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]  # neither was stored
    assert cache.delete_many(["a", "b"]) is None and cache.clear() is None
    assert cache.get_or_set("k", 7) == 7
    with pytest.raises(ValueError, match="not found"):
        cache.incr("n")


def test_a_stalled_cache_costs_one_short_wait_then_is_skipped(redis_cache, caplog) -> None:
    cache.set("k", "v")
    redis_cache.freeze()
    started = time.monotonic()
    assert [cache.get("k") for _ in range(50)] == [None] * 50
    # One 0.5 s timeout, then Redis is not asked (50 timeouts would take 25 s).
    assert time.monotonic() - started < QUICK
    warnings = [r for r in caplog.records if r.name == "lakeweb.cache"]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()

    redis_cache.thaw()
    time.sleep(RETRY_AFTER + 0.1)
    assert cache.get("k") == "v"


def test_keys_written_during_an_outage_are_dropped_when_the_cache_answers_again(
    redis_cache,
) -> None:
    cache.set_many({"changed": "old", "deleted": "old", "untouched": "kept"})
    redis_cache.freeze()
    cache.set("changed", "new")  # not stored: Redis would go on saying "old"
    cache.delete("deleted")
    redis_cache.thaw()
    time.sleep(RETRY_AFTER + 0.1)
    assert cache.get_many(["changed", "deleted", "untouched"]) == {"untouched": "kept"}


def test_rate_limit_keys_are_kept_in_memory_during_an_outage(redis_cache) -> None:
    redis_cache.stop()
    lock = "allauth:rl:allauth.account:login_failed:5/300s/key:abc:lock"
    assert cache.add(lock, True) is True
    assert cache.add(lock, True) is False, "the lock is held in this process"
    cache.set("allauth:rl:history", [1.0, 2.0])
    assert cache.get("allauth:rl:history") == [1.0, 2.0]
    assert cache.get("catalog:page") is None


def test_one_redis_client_serves_every_operation_and_outlives_a_restart(redis_cache) -> None:
    cache.set("k", "v")
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client
    redis_cache.stop()
    assert cache.get("k") is None
    redis_cache.start()  # a new server on the same port, holding nothing
    time.sleep(RETRY_AFTER + 0.1)
    cache.set("k", "again")
    assert cache.get("k") == "again"
    assert cache._cache.get_client() is client
