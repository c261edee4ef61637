"""The one way lakeweb configures and makes an S3 client.

The layer stores (through django-storages), ingest origins and the health
check all speak to the store with this configuration, so they fail the same
way and fast: a stalled store is a :class:`~lakeweb.storage.StorageError`
within seconds, not a worker killed by gunicorn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .base import StorageError


def s3_config(
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
    max_pool_connections: int = 10,
) -> Config:
    """Client configuration; the timeouts and attempts default to the settings.

    ``read_timeout`` bounds each wait for bytes, not a whole transfer: a slow
    but moving upload or download is never cut off.
    """
    if connect_timeout is None:
        connect_timeout = settings.S3_CONNECT_TIMEOUT
    if read_timeout is None:
        read_timeout = settings.S3_READ_TIMEOUT
    if max_attempts is None:
        max_attempts = settings.S3_MAX_ATTEMPTS
    return Config(
        signature_version="s3v4",
        # Every request with a body carries a checksum header that is signed
        # (ours, or botocore's CRC32 by default) and that S3 verifies, so the
        # body needs no second SHA-256 for the signature, even over plain HTTP.
        s3={"addressing_style": settings.S3_ADDRESSING_STYLE, "payload_signing_enabled": False},
        request_checksum_calculation="when_supported",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # "standard" retries only what can pass (throttling, 5xx, broken
        # connections); total_max_attempts counts the first try.
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
    )


@dataclass(frozen=True)
class S3Endpoint:
    """Where a store's buckets are and who it is there: the lake's, or the backup store's."""

    url: str | None
    region: str
    access_key: str | None
    secret_key: str | None


def lake_endpoint() -> S3Endpoint:
    """The layers' endpoint and credentials, as configured in settings."""
    return S3Endpoint(
        url=settings.S3_ENDPOINT_URL,
        region=settings.S3_REGION,
        access_key=settings.S3_ACCESS_KEY_ID,
        secret_key=settings.S3_SECRET_ACCESS_KEY,
    )


def s3_client(
    *,
    endpoint_url: str | None = None,
    config: Config | None = None,
    endpoint: S3Endpoint | None = None,
) -> Any:
    """A boto3 client for the lake's endpoint (or ``endpoint_url``, or another ``endpoint``)."""
    where = endpoint or lake_endpoint()
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url or where.url,
        region_name=where.region,
        aws_access_key_id=where.access_key,
        aws_secret_access_key=where.secret_key,
        config=config or s3_config(),
    )
    client.meta.events.register("before-sign.s3.CopyObject", _copy_names_its_checksum)
    return client


@lru_cache(maxsize=8)
def endpoint_client(endpoint: S3Endpoint) -> Any:
    """The client the layer stores on ``endpoint`` share, made once per process."""
    return s3_client(endpoint=endpoint)


@receiver(setting_changed)
def _forget_clients(*, setting: str, **kwargs: Any) -> None:
    """A client keeps the timeouts and addressing it was made with (tests change them)."""
    if setting.startswith("S3_"):
        endpoint_client.cache_clear()


def _copy_names_its_checksum(request: Any, **kwargs: Any) -> None:
    """A copy into an Object Lock bucket (the backup store) must name its checksum
    algorithm as uploads do; botocore sends only x-amz-checksum-algorithm on a copy."""
    algorithm = request.headers.get("x-amz-checksum-algorithm")
    if algorithm and "x-amz-sdk-checksum-algorithm" not in request.headers:
        request.headers["x-amz-sdk-checksum-algorithm"] = algorithm


def s3_buckets_check(*, connect_timeout: float = 1, read_timeout: float = 2) -> None:
    """Every layer's bucket answers, each within the timeouts and on the first try.

    For the health check, which must answer within seconds whatever hangs;
    raises StorageError naming the first bucket that does not answer.
    """
    client = _checking_client(connect_timeout, read_timeout, _endpoint())
    for layer in settings.LAKEWEB_LAYERS:
        bucket = settings.S3_BUCKETS[layer]
        try:
            client.head_bucket(Bucket=bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {bucket} unreachable: {exc}") from exc


def _endpoint() -> tuple[str | None, ...]:
    return (
        settings.S3_ENDPOINT_URL,
        settings.S3_REGION,
        settings.S3_ADDRESSING_STYLE,
        settings.S3_ACCESS_KEY_ID,
        settings.S3_SECRET_ACCESS_KEY,
    )


@lru_cache(maxsize=4)
def _checking_client(connect_timeout: float, read_timeout: float, endpoint: tuple) -> Any:
    """Made once per endpoint: making a client costs more CPU than checking four buckets."""
    config = s3_config(connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=1)
    return s3_client(config=config)
