"""Raw cannot be deleted or overwritten within its retention, proven on a real S3 store.

moto does not enforce Object Lock fully, so this runs on SeaweedFS (always: it
starts its own when the session's S3 server is moto). lakeweb's raw bucket is
made as ``storage_init`` makes it, by the operator's identity; every attempt
below is made with the app's own credentials (the ones lakeweb runs with), then
with a read-only identity. Each attempt is refused, or leaves the stored
version's bytes and retention as they were.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import s3_lake_on
from lakeweb.storage import layer_store
from lakeweb.storage.base import ObjectConflict
from lakeweb.tests.seaweed import (
    ADMIN_KEY,
    ADMIN_SECRET,
    APP_KEY,
    APP_SECRET,
    READER_KEY,
    READER_SECRET,
)

DATA = b"instrument bytes, sealed\n" * 100
KEY = "datasets/d1/run/a.txt"


@pytest.fixture
def raw(settings, seaweedfs) -> dict[str, Any]:
    """A raw bucket on SeaweedFS (GOVERNANCE, 90 days) holding one object lakeweb stored."""
    s3_lake_on(settings, seaweedfs.url, operator=(ADMIN_KEY, ADMIN_SECRET))
    store = layer_store("raw")
    store.put_bytes(KEY, DATA, exclusive=True)  # as uploads store small files
    app = seaweedfs.client(APP_KEY, APP_SECRET)
    bucket = settings.S3_BUCKETS["raw"]
    versions = app.list_object_versions(Bucket=bucket, Prefix=KEY)["Versions"]
    assert len(versions) == 1
    return {
        "bucket": bucket,
        "version": versions[0]["VersionId"],
        "app": app,
        "reader": seaweedfs.client(READER_KEY, READER_SECRET),
        "admin": seaweedfs.client(ADMIN_KEY, ADMIN_SECRET),
    }


def _bytes(raw: dict[str, Any]) -> bytes:
    got = raw["app"].get_object(Bucket=raw["bucket"], Key=KEY, VersionId=raw["version"])
    return got["Body"].read()


def _refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refusal:
        call(**kwargs)
    return refusal.value.response["Error"]["Code"]


def test_stored_version_has_the_buckets_default_retention(raw) -> None:
    # Read with the operator's identity: SeaweedFS keeps retention settings from the app's.
    retention = raw["admin"].get_object_retention(
        Bucket=raw["bucket"], Key=KEY, VersionId=raw["version"]
    )["Retention"]
    assert retention["Mode"] == "GOVERNANCE"


def test_app_cannot_delete_a_locked_version(raw) -> None:
    code = _refused(
        raw["app"].delete_object, Bucket=raw["bucket"], Key=KEY, VersionId=raw["version"]
    )
    assert code == "AccessDenied"
    assert hashlib.sha256(_bytes(raw)).digest() == hashlib.sha256(DATA).digest()


def test_app_cannot_bypass_governance_retention(raw) -> None:
    """GOVERNANCE yields only to an identity allowed to bypass it: the app's is not."""
    code = _refused(
        raw["app"].delete_object,
        Bucket=raw["bucket"],
        Key=KEY,
        VersionId=raw["version"],
        BypassGovernanceRetention=True,
    )
    assert code == "AccessDenied"
    assert _bytes(raw) == DATA


def test_app_cannot_shorten_the_retention(raw) -> None:
    import datetime

    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
    _refused(
        raw["app"].put_object_retention,
        Bucket=raw["bucket"],
        Key=KEY,
        VersionId=raw["version"],
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon},
    )
    retention = raw["admin"].get_object_retention(
        Bucket=raw["bucket"], Key=KEY, VersionId=raw["version"]
    )["Retention"]
    assert retention["RetainUntilDate"] > soon + datetime.timedelta(days=80)


def test_lakeweb_refuses_to_write_over_a_raw_key(raw) -> None:
    """lakeweb's own writes to raw are conditional: other bytes are a conflict, no new version."""
    with pytest.raises(ObjectConflict):
        layer_store("raw").put_bytes(KEY, b"other bytes", exclusive=True)
    versions = raw["app"].list_object_versions(Bucket=raw["bucket"], Prefix=KEY)["Versions"]
    assert [v["VersionId"] for v in versions] == [raw["version"]]


def test_an_overwrite_or_plain_delete_keeps_the_locked_version(raw) -> None:
    """A PUT over the key, or a DELETE without a version, adds a version or a marker:
    the sealed version is still there, byte for byte, and still locked."""
    raw["app"].put_object(Bucket=raw["bucket"], Key=KEY, Body=b"overwritten")
    assert _bytes(raw) == DATA
    marker = raw["app"].delete_object(Bucket=raw["bucket"], Key=KEY)
    assert marker.get("DeleteMarker") is True
    assert _bytes(raw) == DATA
    code = _refused(
        raw["app"].delete_object, Bucket=raw["bucket"], Key=KEY, VersionId=raw["version"]
    )
    assert code == "AccessDenied"


def test_read_only_identity_can_read_but_not_write_or_delete(raw) -> None:
    reader = raw["reader"]
    got = reader.get_object(Bucket=raw["bucket"], Key=KEY, VersionId=raw["version"])
    assert got["Body"].read() == DATA
    assert _refused(reader.put_object, Bucket=raw["bucket"], Key="x", Body=b"x") == "AccessDenied"
    code = _refused(reader.delete_object, Bucket=raw["bucket"], Key=KEY, VersionId=raw["version"])
    assert code == "AccessDenied"
    assert _bytes(raw) == DATA


def test_compliance_retention_holds_even_for_the_operator(settings, seaweedfs) -> None:
    """With RAW_RETENTION_MODE=COMPLIANCE nobody, not even a bypass by an admin, deletes it."""
    settings.RAW_RETENTION_MODE = "COMPLIANCE"
    settings.RAW_RETENTION_DAYS = 1
    s3_lake_on(settings, seaweedfs.url, operator=(ADMIN_KEY, ADMIN_SECRET))
    layer_store("raw").put_bytes(KEY, DATA, exclusive=True)
    admin, bucket = seaweedfs.client(ADMIN_KEY, ADMIN_SECRET), settings.S3_BUCKETS["raw"]
    version = admin.list_object_versions(Bucket=bucket, Prefix=KEY)["Versions"][0]["VersionId"]
    code = _refused(
        admin.delete_object,
        Bucket=bucket,
        Key=KEY,
        VersionId=version,
        BypassGovernanceRetention=True,
    )
    assert code == "AccessDenied"
    body = admin.get_object(Bucket=bucket, Key=KEY, VersionId=version)["Body"].read()
    assert body == DATA
