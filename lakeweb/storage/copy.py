"""The one copy-and-verify between stores: promotions, backups and restores use it."""

from __future__ import annotations

from lakeweb.errors import ChecksumMismatch

from .base import LayerStore, StoredObject


def copy_verified(
    *,
    source: LayerStore,
    key: str,
    target: LayerStore,
    target_key: str,
    sha256: str,
    size: int | None = None,
    version_id: str | None = None,
) -> str:
    """:func:`copy_verified_object`, for callers that keep only the SHA-256."""
    return copy_verified_object(
        source=source,
        key=key,
        target=target,
        target_key=target_key,
        sha256=sha256,
        size=size,
        version_id=version_id,
    ).sha256


def copy_verified_object(
    *,
    source: LayerStore,
    key: str,
    target: LayerStore,
    target_key: str,
    sha256: str,
    size: int | None = None,
    version_id: str | None = None,
) -> StoredObject:
    """Copy an object (server-side where the stores can) and prove the copy's SHA-256.

    The copy's checksum comes from the store when it reports one (S3's
    CopyObject with a SHA-256 checksum, or the hash taken while streaming);
    otherwise the copy is read back and hashed. A copy whose SHA-256 is not
    ``sha256`` raises ChecksumMismatch and must not be recorded.
    ``version_id`` names the source's version to copy; the copy comes back
    with its own version id (None where the target keeps no versions).
    """
    copied = source.copy_to(key, target, target_key, size=size, version_id=version_id)
    digest = copied.sha256
    if digest is None:
        size, digest = target.sha256(target_key, version_id=copied.version_id)
    if digest != sha256:
        raise ChecksumMismatch(f"{key}: the copy has SHA-256 {digest}, expected {sha256}")
    return StoredObject(key=target_key, size=size or 0, sha256=digest, version_id=copied.version_id)
