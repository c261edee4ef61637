"""Datasets, their files, sources, tags and admin-defined metadata forms (SPEC §2)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models


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


class MetadataForm(models.Model):
    """A form admins build in Django admin; datasets keep the version they used."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    retired = models.BooleanField(
        default=False, help_text="Retired forms stay readable but cannot be used for new uploads."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FieldType(models.TextChoices):
    TEXT = "text", "text"
    LONG_TEXT = "long_text", "long text"
    INTEGER = "integer", "integer"
    DECIMAL = "decimal", "decimal"
    DATE = "date", "date"
    DATETIME = "datetime", "date-time"
    BOOLEAN = "boolean", "boolean"
    CHOICE = "choice", "choice"
    MULTIPLE_CHOICE = "multiple_choice", "multiple choice"
    URL = "url", "URL"
    EMAIL = "email", "email"


class MetadataField(models.Model):
    """One field of the form as it is being edited; versions snapshot them."""

    form = models.ForeignKey(MetadataForm, on_delete=models.CASCADE, related_name="fields")
    order = models.PositiveIntegerField(default=0)
    name = models.SlugField(max_length=64, help_text="Key stored in the metadata JSON.")
    prompt = models.CharField(max_length=200, help_text="Label shown to the user.")
    help_text = models.CharField(max_length=500, blank=True)
    field_type = models.CharField(max_length=20, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=False)
    choices = models.TextField(blank=True, help_text="One choice per line (choice fields).")
    default = models.CharField(max_length=500, blank=True)
    min_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    pattern = models.CharField(max_length=500, blank=True, help_text="Regular expression (text).")

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["form", "name"], name="metadatafield_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.form}: {self.name}"

    def clean(self) -> None:
        # Refused here, the admin shows the fault beside the field and stores nothing.
        from .metadata import field_definition, field_definition_check  # metadata imports us

        field_definition_check(field_definition(self))


class MetadataFormVersion(models.Model):
    """An immutable snapshot of a form's fields; datasets point here."""

    form = models.ForeignKey(MetadataForm, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    fields = models.JSONField(help_text="The field definitions as they were in this version.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["form", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="formversion_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.form} v{self.number}"


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
    created_at = models.DateTimeField(auto_now_add=True)
    sealed_at = models.DateTimeField(null=True, blank=True)
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
    folder = models.CharField(max_length=1024, default="", help_text="Parent folder ('' at top).")

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "path"], name="datafile_unique_path"),
        ]
        indexes = [
            models.Index(fields=["dataset", "folder", "path"], name="datafile_folder_idx"),
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


class DatasetTally(models.Model):
    """Ready datasets and their bytes per layer, source, form and month.

    Kept by the services that seal and delete datasets, in the same
    transaction, so that facet counts, the dashboard and the stats API read a
    few hundred rows instead of counting a million datasets.
    """

    layer = models.CharField(max_length=16, choices=Layer.choices)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(MetadataForm, null=True, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month the dataset was made.")
    datasets = models.IntegerField(default=0)
    bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["layer", "source", "form", "month"],
                condition=models.Q(form__isnull=False),
                name="tally_unique_with_form",
            ),
            models.UniqueConstraint(
                fields=["layer", "source", "month"],
                condition=models.Q(form__isnull=True),
                name="tally_unique_without_form",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.layer}/{self.source_id}/{self.form_id}/{self.month}: {self.datasets}"


class CatalogVersion(models.Model):
    """One row whose number changes with every change to what browsing shows.

    Set by the indexing services in the transaction that seals or deletes a
    dataset; pages and tallies are cached under it, so nothing cached is
    stale. Each change draws a new random number rather than adding one, so
    a number never comes back: not after a database restore or reload either,
    when a shared cache may still hold what an old number meant.
    """

    number = models.BigIntegerField(default=0)

    # With a cache every process shares (CACHE_URL), the number is also kept
    # there: set when a change commits, read back by every page, and read from
    # this row again once it expires (e.g. after a database restore).
    CACHE_KEY = "catalog-version"
    CACHE_SECONDS = 60

    def __str__(self) -> str:
        return f"catalog version {self.number}"


class TagTally(models.Model):
    """Ready datasets per tag and layer (kept like DatasetTally)."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    layer = models.CharField(max_length=16, choices=Layer.choices)
    datasets = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tag", "layer"], name="tagtally_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tag_id}/{self.layer}: {self.datasets}"


class FieldValueTally(models.Model):
    """Ready datasets per metadata field value and layer (kept like DatasetTally).

    Tells a ``field = value`` search that it surely matches more datasets than
    the catalog counts, without reading them. It may count *fewer* datasets
    than have a value (values longer than ``value``'s length are not kept, nor
    datasets sealed before it existed until ``catalog_reindex``), never more:
    only a lower bound is ever read from it.
    """

    name = models.CharField(max_length=64)
    value = models.CharField(max_length=200, help_text="The value as JSON text.")
    in_list = models.BooleanField(default=False, help_text="An element of a multiple choice.")
    layer = models.CharField(max_length=16, choices=Layer.choices)
    datasets = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "value", "in_list", "layer"], name="fieldvaluetally_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}/{self.layer}: {self.datasets}"

    @staticmethod
    def text_of(value: Any) -> str:
        """A metadata value as this tally keys it: its JSON text."""
        return json.dumps(value, ensure_ascii=False)


class UploadFile(models.Model):
    """A file of an unfinished upload: how much has arrived, and the hash so far.

    Chunks of one file arrive in order (``received`` is the next offset), so
    the whole-file SHA-256 is computed as the bytes stream through; its state
    is kept here (``hash_state``) so an upload resumes after a server restart.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="upload_files")
    path = models.CharField(max_length=1024)
    size = models.PositiveBigIntegerField()
    chunk_size = models.PositiveIntegerField()
    received = models.PositiveBigIntegerField(default=0)
    hash_state = models.BinaryField(default=b"", editable=False)
    storage_key = models.CharField(max_length=1024)
    storage_upload_id = models.CharField(max_length=1024, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    completed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "path"], name="uploadfile_unique_path"),
        ]

    def __str__(self) -> str:
        return f"{self.path} ({self.received}/{self.size})"


class UploadPart(models.Model):
    """One stored and hashed chunk of a multi-chunk file: what completing the object needs.

    A row is written in the same transaction that moves the file's hashed
    offset past the chunk, so ``info`` is the part whose bytes are in the
    file's SHA-256 (a client's retry may have stored the same part twice).
    """

    upload_file = models.ForeignKey(UploadFile, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveIntegerField()
    info = models.JSONField(default=dict)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["upload_file", "number"], name="uploadpart_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.upload_file.path} part {self.number}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class Promotion(models.Model):
    """A queued copy of a dataset into the adjacent next layer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="promotions")
    target_layer = models.CharField(max_length=16, choices=Layer.choices)
    target = models.OneToOneField(
        Dataset, on_delete=models.PROTECT, null=True, blank=True, related_name="promoted_from"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promotions"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    files_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="promotion_recent_idx")]
        constraints = [
            # One live or finished promotion per dataset and layer: a second
            # click or a redelivered task cannot make a twin.
            models.UniqueConstraint(
                fields=["source", "target_layer"],
                condition=~models.Q(status="failed"),
                name="promotion_unique_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target_layer} ({self.status})"
