"""The catalog's refusals are the project's own (lakeweb/errors.py)."""

from __future__ import annotations

from lakeweb.errors import ActionRefused, ChecksumMismatch, PermissionRefused

__all__ = ["ActionRefused", "ChecksumMismatch", "PermissionRefused"]
