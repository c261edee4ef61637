"""Export tests read what lakeweb serves with the reference libraries, offline."""

from __future__ import annotations

import pytest

from .exports import serve_contexts_offline


@pytest.fixture
def offline_contexts(monkeypatch) -> list[str]:
    """The JSON-LD contexts the crate readers ask for, served from a local copy."""
    return serve_contexts_offline(monkeypatch)
