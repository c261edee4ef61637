"""Answers kept in the shared cache, made once for everyone who asks the same (``kept``).

Search answers are kept for one catalog version, shared by the page and the
API (``results_cached``). The results of one query under one catalog version
never change, and every browsing user sees the same ones: what was made from
them is kept RESULTS_CACHE_SECONDS, keyed by the version and the request's
address (scheme, host, path and query: the API's links are absolute). A new
version (a dataset sealed or deleted) leaves the old keys unused; they expire.
What the answers show of other rows (a form's or a source's name, an owner's
username) may lag an admin's edit by as much.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

RESULTS_CACHE_SECONDS = 600

T = TypeVar("T")


def kept(*, prefix: str, address: str, seconds: int, make: Callable[[], T]) -> T:
    """``make()``'s answer, kept in the shared cache ``seconds`` under ``prefix`` and
    ``address``: made once for everyone who asks the same.

    What ``make`` raises is not kept: the next request tries again.
    """
    # The address may be kilobytes long (page links carry their cursor): keyed by its hash.
    digest = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()
    key = f"{prefix}:{digest}"
    answer = cache.get(key)
    if answer is None:
        answer = make()
        cache.set(key, answer, seconds)
    return answer


def results_cached(*, kind: str, version: int, address: str, make: Callable[[], T]) -> T:
    """``make()``'s answer for this kind, version and address (see the module doc)."""
    return kept(
        prefix=f"catalog-{kind}:{version}",
        address=address,
        seconds=RESULTS_CACHE_SECONDS,
        make=make,
    )
