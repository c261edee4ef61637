"""Unfinished uploads: what has arrived of each file, and its hash so far."""

from __future__ import annotations

from django.db import models

from .datasets import Dataset


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


class DerivationSource(models.Model):
    """A ready dataset an unfinished derived upload is made from, and its digest then.

    Written when the upload starts (so a resumed upload keeps its sources) and
    read when it is sealed into the ``derivation`` provenance event, which is
    the lasting record; the rows go with the upload's other bookkeeping.
    """

    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="derivation_sources"
    )
    source = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    manifest_digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "source"], name="derivationsource_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} from {self.source_id}"
