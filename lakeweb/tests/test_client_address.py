"""The client's address: REMOTE_ADDR unless a trusted proxy forwarded the request."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from lakeweb.client_address import MAX_HOPS, client_address


def address(settings, trusted: list[str], peer: str, forwarded: str | None = None) -> str:
    settings.LAKEWEB_TRUSTED_PROXIES = trusted
    meta = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **meta))


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ([], "192.0.2.1", "203.0.113.9", "192.0.2.1"),  # off by default: the header is ignored
        (["10.0.0.0/8"], "192.0.2.1", "203.0.113.9", "192.0.2.1"),  # peer is no proxy of ours
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),  # nothing forwarded: the proxy itself
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # forged left
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9, 10.1.1.1", "203.0.113.9"),  # two proxies
        (["10.0.0.0/8"], "10.0.0.2", "10.3.3.3, 10.1.1.1", "10.3.3.3"),  # all ours: leftmost
        (["10.0.0.0/8"], "10.0.0.2", "not-an-ip, 10.1.1.1", "10.1.1.1"),  # garbage stops the walk
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9:4711", "203.0.113.9"),  # a port is dropped
        (["fd00::/8"], "fd00::2", "[2001:db8::7]:443", "2001:db8::7"),
        (["fd00::/8", "10.0.0.0/8"], "fd00::2", "2001:db8::7, 10.0.0.5", "2001:db8::7"),
    ],
)
def test_the_client_is_the_rightmost_untrusted_hop(settings, trusted, peer, forwarded, client):
    assert address(settings, trusted, peer, forwarded) == client


def test_a_long_forged_chain_is_read_only_at_its_right_end(settings) -> None:
    chain = ", ".join(["10.9.9.9"] * 10_000 + ["203.0.113.9"] + ["10.1.1.1"] * (MAX_HOPS - 1))
    assert address(settings, ["10.0.0.0/8"], "10.0.0.2", chain) == "203.0.113.9"
    only_ours = ", ".join(["203.0.113.9"] + ["10.1.1.1"] * MAX_HOPS)
    assert address(settings, ["10.0.0.0/8"], "10.0.0.2", only_ours) == "10.1.1.1"


def test_a_wrong_network_in_the_setting_is_refused(settings) -> None:
    with pytest.raises(ImproperlyConfigured, match="LAKEWEB_TRUSTED_PROXIES"):
        address(settings, ["10.0.0.0/33"], "10.0.0.2", "203.0.113.9")
