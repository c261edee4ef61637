"""Datasets, their files and folders, sources and tags (SPEC §2)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from .forms import MetadataFormVersion


class Layer(models.TextChoices):
    RAW = "raw", "raw"
    PROCESSED = "processed", "processed"
    CURATED = "curated", "curated"
    ARCHIVE = "archive", "archive"

    @classmethod
    def next_of(cls, layer: str) -> str | None:
        order = list(cls.values)
        index = order.index(layer)
        return order[index + 1] if index + 1 < len(order) else None


class Source(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    url = models.URLField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DatasetStatus(models.TextChoices):
    UPLOADING = "uploading", "uploading"
    READY = "ready", "ready"
    FAILED = "failed", "failed"
    DELETED = "deleted", "deleted"


class Dataset(models.Model):
    """An immutable, named set of files in exactly one layer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="datasets")
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    layer = models.CharField(max_length=16, choices=Layer.choices, default=Layer.RAW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="datasets"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="datasets")
    metadata = models.JSONField(default=dict, blank=True)
    form_version = models.ForeignKey(
        MetadataFormVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="datasets",
    )
    file_count = models.PositiveIntegerField(default=0)
    total_size = models.PositiveBigIntegerField(default=0)
    manifest_digest = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.UPLOADING
    )
    failure_reason = models.TextField(blank=True)
    storage_prefix = models.CharField(max_length=200, editable=False)
    # The archive's cold class its files are stored in (ARCHIVE_STORAGE_CLASS at
    # promotion), or "" for files that read as they are.
    storage_class = models.CharField(max_length=32, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sealed_at = models.DateTimeField(null=True, blank=True)
    # Every file of the dataset was verified by fixity at or after this time
    # (null until each was once). Written by each fixity batch for the
    # datasets it touched, so the dataset page reads one field, not its files.
    files_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What text search reads, written once at sealing (a dataset never changes
    # after): name, description, external id, tags and metadata values.
    # PostgreSQL searches ``search_vector`` (GIN index, ranked); other
    # databases fall back to ``search_text``.
    search_text = models.TextField(blank=True, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        # One index per sort order, each led by status, so that every page of
        # the catalog, however deep, is read in index order (keyset paging).
        # The GIN indexes (search_vector, metadata containment) are created
        # by migration 0006 on PostgreSQL only.
        indexes = [
            models.Index(fields=["status", "layer", "-created_at"], name="dataset_browse_idx"),
            # Date order, the default, gets a partial index of ready datasets
            # only: a quarter smaller, so deep pages skip faster.
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(status="ready"),
                name="dataset_ready_date_idx",
            ),
            models.Index(fields=["status", "name", "id"], name="dataset_name_idx"),
            models.Index(fields=["status", "total_size", "id"], name="dataset_size_idx"),
        ]
        permissions = [
            ("promote_to_processed", "Can promote raw datasets to processed"),
            ("promote_onward", "Can promote to curated and archive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.layer})"

    @property
    def is_sealed(self) -> bool:
        return self.sealed_at is not None

    @property
    def next_layer(self) -> str | None:
        return Layer.next_of(self.layer)


class DataFile(models.Model):
    """One file of a dataset, at its relative POSIX path."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=1024)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=200, blank=True)
    storage_key = models.CharField(max_length=1024)
    # The version the store gave the object when it was written (S3 with
    # versioning, as Object-Locked raw); every read names it, so a later
    # write over the key changes nothing lakeweb serves. Null where the store
    # keeps no versions (folders, unversioned buckets).
    version_id = models.CharField(max_length=1024, null=True, blank=True)
    # When fixity last read the object back and found its SHA-256 (null:
    # never yet). The scheduled check takes the oldest first.
    verified_at = models.DateTimeField(null=True, blank=True)
    folder = models.CharField(max_length=1024, default="", help_text="Parent folder ('' at top).")

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "path"], name="datafile_unique_path"),
        ]
        indexes = [
            models.Index(fields=["dataset", "folder", "path"], name="datafile_folder_idx"),
            # The fixity check's order: never verified (IS NULL, by id) first,
            # then oldest; two index scans, as SQLite cannot index NULLS FIRST.
            models.Index(fields=["verified_at", "id"], name="datafile_fixity_order_idx"),
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class DataFolder(models.Model):
    """A folder of a sealed dataset with what it holds, all levels down.

    Written at sealing so that the dataset page opens one folder of a
    20,000-file dataset without reading the other files.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="folders")
    path = models.CharField(max_length=1024, help_text="'' is the dataset's top folder.")
    parent = models.CharField(max_length=1024, blank=True)
    file_count = models.PositiveIntegerField()
    total_size = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "path"], name="datafolder_unique_path"),
        ]
        indexes = [
            models.Index(fields=["dataset", "parent", "path"], name="datafolder_parent_idx"),
        ]

    def __str__(self) -> str:
        return self.path or "/"

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]
