"""Login throttling (issue 14 item 3): per pair, per account, per address; a flood
against one account does not lock out the others behind the same address."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD, require_services
from lakeweb.groups_sync import invitation_url
from lakeweb.tests.test_cache import redis_cache, redis_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

LAB_NAT, ELSEWHERE = "192.0.2.10", "198.51.100.20"
REFUSED = "Too many failed login attempts"


def log_in(email: str, password: str = PASSWORD, *, address: str = LAB_NAT, **meta: str):
    """One login post from ``address``, as a fresh browser."""
    data = {"login": email, "password": password}
    return Client().post(reverse("account_login"), data, REMOTE_ADDR=address, **meta)


def signed_in(response) -> bool:
    return response.status_code == 302 and REFUSED not in response.content.decode()


def refused(response) -> bool:
    return response.status_code == 200 and REFUSED in response.content.decode()


def flood(email: str, times: int, *, address: str = LAB_NAT, **meta: str) -> None:
    for _ in range(times):
        response = log_in(email, "wrong password", address=address, **meta)
        assert response.status_code == 200  # the form again, never a 429 or a 500


def test_a_flood_against_one_account_does_not_lock_out_its_neighbours(users) -> None:
    alice, bob = users["member"], users["viewer"]

    flood(alice.email, 30)

    assert refused(log_in(alice.email)), "the flooded account is refused from that address"
    assert signed_in(log_in(bob.email)), "another account behind the same address signs in"
    assert signed_in(log_in(alice.email, address=ELSEWHERE)), "its owner signs in elsewhere"


def test_the_pair_limit_refuses_from_the_sixth_failure(users) -> None:
    flood(users["member"].email, 5)
    assert refused(log_in(users["member"].email))


def test_a_right_password_gives_its_attempt_back(users) -> None:
    email = users["member"].email
    flood(email, 4)
    for _ in range(3):
        assert signed_in(log_in(email)), "successes do not fill the pair's allowance"
    flood(email, 1)
    assert refused(log_in(email))


def test_an_ipv6_host_rotating_within_its_network_shares_one_pair(users) -> None:
    email = users["member"].email
    for n in range(5):
        log_in(email, "wrong", address=f"2001:db8:1:2::{n + 1}")
    assert refused(log_in(email, address="2001:db8:1:2::99"))
    assert signed_in(log_in(email, address="2001:db8:1:3::1")), "another /64 is another address"


def test_a_password_reset_lifts_the_accounts_limit(users) -> None:
    email = users["member"].email
    flood(email, 5)
    link = invitation_url(users["member"], site_url="")  # allauth's reset link, as mailed
    browser = Client(REMOTE_ADDR=LAB_NAT)
    form = browser.get(link, follow=True)
    new = "another long passphrase 7"
    done = browser.post(form.redirect_chain[-1][0], {"password1": new, "password2": new})
    assert done.status_code == 302

    assert signed_in(log_in(email, new))


def test_one_address_trying_many_accounts_hits_the_address_limit(settings, users) -> None:
    limits = {**settings.ACCOUNT_RATE_LIMITS, "login_failed_address": "8/15m/ip"}
    settings.ACCOUNT_RATE_LIMITS = limits
    for n in range(4):
        flood(f"guess{n}@lab.example", 2)

    assert refused(log_in(users["viewer"].email)), "the ninth password check is refused"
    assert signed_in(log_in(users["viewer"].email, address=ELSEWHERE))


def test_many_addresses_against_one_account_hit_the_account_limit(settings, users) -> None:
    limits = {**settings.ACCOUNT_RATE_LIMITS, "login_failed_account": "8/15m/key"}
    settings.ACCOUNT_RATE_LIMITS = limits
    email = users["member"].email
    flood(email, 5, address="203.0.113.1")
    flood(email, 3, address="203.0.113.2")

    assert refused(log_in(email, address="203.0.113.3"))
    assert signed_in(log_in(users["viewer"].email, address="203.0.113.3"))


def test_a_forwarded_header_is_ignored_unless_its_proxy_is_trusted(users) -> None:
    email = users["member"].email
    for n in range(5):  # a guesser rotating a forged header gains nothing
        log_in(email, "wrong", X_FORWARDED_FOR=f"203.0.113.{n}")
    assert refused(log_in(email, X_FORWARDED_FOR="203.0.113.99"))


def test_behind_a_trusted_proxy_each_client_is_counted_apart(settings, users) -> None:
    settings.LAKEWEB_TRUSTED_PROXIES = ["10.0.0.0/8"]
    email, proxy = users["member"].email, "10.0.0.2"
    flood(email, 5, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert refused(log_in(email, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7"))
    # A forged left-hand hop does not hide the client the proxy saw.
    forged = "203.0.113.5, 198.51.100.7"
    assert refused(log_in(email, address=proxy, HTTP_X_FORWARDED_FOR=forged))
    assert signed_in(log_in(email, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8"))


SCRIPT = """
import django
django.setup()
from django.test import Client
for _ in range(5):
    answer = Client().post("/accounts/login/", {"login": EMAIL, "password": "wrong"},
                           REMOTE_ADDR=ADDRESS)
    assert answer.status_code == 200, answer.status_code
"""


def test_limits_hold_across_processes_through_the_shared_cache(
    redis_cache,  # noqa: F811 - the fixture imported above
    users,
    tmp_path: Path,
) -> None:
    if connection.vendor != "postgresql":
        require_services("the second process needs the test database on PostgreSQL")
    db = connection.settings_dict
    email = users["member"].email
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lakeweb.settings",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "CACHE_URL": redis_cache.url,
        "LAKEWEB_DATA_DIR": str(tmp_path),
        # The test database: the other process sees the tables (not this test's rows).
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    code = f"EMAIL, ADDRESS = {email!r}, {LAB_NAT!r}\n{SCRIPT}"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)

    assert any(key.startswith(b":1:allauth:rl:") for key in redis_cache.stored_keys())
    assert refused(log_in(email)), "five failures counted by another process refuse this one"
    assert signed_in(log_in(users["viewer"].email))
