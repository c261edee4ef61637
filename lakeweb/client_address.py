"""The address a request came from, trusting X-Forwarded-For only from our own proxies.

Off by default: the client is ``REMOTE_ADDR``, and a forwarded header is
ignored (anyone can send one). Behind a reverse proxy (compose's, a lab's
load balancer) ``LAKEWEB_TRUSTED_PROXIES`` lists the proxies' networks; the
header is then read from the right, skipping hops in those networks, and the
first hop outside them is the client. Hops further left were written by the
client itself and are never believed (RFC 7239 §5.2 explains the walk).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# A forwarded chain longer than this is not from a real proxy chain; only its
# right-hand end (what our proxies wrote) is read, so the work is bounded.
MAX_HOPS = 16


@lru_cache(maxsize=8)
def trusted_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """``LAKEWEB_TRUSTED_PROXIES`` parsed; a wrong entry stops the server at start-up."""
    try:
        return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)
    except ValueError as exc:
        raise ImproperlyConfigured(f"LAKEWEB_TRUSTED_PROXIES: {exc}") from None


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the right-most untrusted X-Forwarded-For hop."""
    # No address (a test client, a unix socket): one shared "unknown" bucket.
    peer = _parse(request.META.get("REMOTE_ADDR", "")) or ipaddress.ip_address("0.0.0.0")  # noqa: S104
    networks = trusted_networks(tuple(settings.LAKEWEB_TRUSTED_PROXIES))
    if not networks or not _trusted(peer, networks):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    client = peer
    for hop in reversed(forwarded.split(",")[-MAX_HOPS:]):
        address = _parse(hop)
        if address is None:
            break  # garbage in the chain: the last proxy that handed it on is who we know
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
