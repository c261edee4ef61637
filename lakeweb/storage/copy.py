"""The one copy-and-verify between stores: promotions, backups and restores use it."""

from __future__ import annotations

from lakeweb.errors import ChecksumMismatch

from .base import LayerStore


def copy_verified(
    *,
    source: LayerStore,
    key: str,
    target: LayerStore,
    target_key: str,
    sha256: str,
    size: int | None = None,
) -> str:
    """Copy an object (server-side where the stores can) and prove the copy's SHA-256.

    The copy's checksum comes from the store when it reports one (S3's
    CopyObject with a SHA-256 checksum, or the hash taken while streaming);
    otherwise the copy is read back and hashed. A copy whose SHA-256 is not
    ``sha256`` raises ChecksumMismatch and must not be recorded.
    """
    copied = source.copy_to(key, target, target_key, size=size)
    if copied is None:
        _size, copied = target.sha256(target_key)
    if copied != sha256:
        raise ChecksumMismatch(f"{key}: the copy has SHA-256 {copied}, expected {sha256}")
    return copied
