"""Errors the catalog services raise for refused actions (shown to users)."""

from __future__ import annotations


class ActionRefused(Exception):
    """The action is not allowed in this state; the message says why."""


class PermissionRefused(ActionRefused):
    """The user lacks the role for this action."""


class ChecksumMismatch(Exception):
    """Stored bytes do not match the recorded SHA-256."""
