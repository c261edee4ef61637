from __future__ import annotations

import hashlib
import os
import sys

import pytest

from lakeweb import hashing
from lakeweb.hashing import ResumableSHA256


@pytest.mark.parametrize("cut", [0, 1, 63, 64, 65, 1000, 4096])
def test_state_saved_midway_resumes_to_the_same_digest(cut: int) -> None:
    data = os.urandom(10_000)
    first = ResumableSHA256()
    first.update(data[:cut])
    resumed = ResumableSHA256.from_state(first.state())
    resumed.update(data[cut:])
    assert resumed.hexdigest() == hashlib.sha256(data).hexdigest()


def test_hexdigest_does_not_end_the_hash() -> None:
    hasher = ResumableSHA256()
    hasher.update(b"abc")
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    hasher.update(b"def")
    assert hasher.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_fallback_implementation_matches(monkeypatch) -> None:
    monkeypatch.setattr(hashing, "_LIB", None)
    hasher = ResumableSHA256()
    hasher.update(b"lake")
    resumed = ResumableSHA256.from_state(hasher.state())
    resumed.update(b"web")
    assert resumed.hexdigest() == hashlib.sha256(b"lakeweb").hexdigest()


def test_a_state_from_the_other_implementation_is_refused(monkeypatch) -> None:
    state = ResumableSHA256().state()
    monkeypatch.setattr(
        hashing, "_LIB", None if state[:1] == hashing.OPENSSL else hashing._libcrypto()
    )
    with pytest.raises(ValueError, match="another SHA-256 implementation"):
        ResumableSHA256.from_state(state)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libcrypto is checked on Linux")
def test_openssl_is_used_on_linux() -> None:
    # Linux hosts and the Docker image have libcrypto; the fallback is for others.
    assert hashing._LIB is not None
