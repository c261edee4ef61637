"""What fixity found wrong with stored objects (SPEC §2 Fixity).

Catalog records these, not backups, because the streams that pass through
lakeweb (zips, previews, downloads) are catalog's and hash as they go: a
mismatch found there is recorded where it is found. The scheduled checks and
the reconciliation pass (``backups.fixity``) record through the same service.
"""

from __future__ import annotations

from django.db import models


class FixityKind(models.TextChoices):
    MISMATCH = "mismatch", "bytes differ from the recorded SHA-256"
    MISSING = "missing", "object missing"
    # The version lakeweb sealed is intact, but a later write put another
    # version over its key (S3 versioning keeps both): someone wrote where
    # they should not have.
    OVERWRITTEN = "overwritten", "another version written over the key"
    ORPHAN = "orphan", "object no catalog row names"


class FixityFailure(models.Model):
    """One problem with one stored object, open until ``resolved_at`` is set.

    ``datafile`` is null for an orphan (an object no row names). One open
    failure per file and kind: a problem seen again (the next batch, a
    second zip) is the same failure, and alerts once.
    """

    kind = models.CharField(max_length=16, choices=FixityKind.choices)
    datafile = models.ForeignKey(
        "catalog.DataFile",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="fixity_failures",
    )
    dataset = models.ForeignKey(
        "catalog.Dataset",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="fixity_failures",
    )
    layer = models.CharField(max_length=16)
    storage_key = models.CharField(max_length=1024)
    expected_sha256 = models.CharField(max_length=64, blank=True)
    found_sha256 = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    # Where it was found: "fixity" (the scheduled check), "reconcile", "zip",
    # "download", "preview".
    found_by = models.CharField(max_length=16)
    found_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # For orphans: whether the reconciliation pass removed the object.
    removed = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-found_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["datafile", "kind"],
                condition=models.Q(resolved_at__isnull=True, datafile__isnull=False),
                name="fixity_one_open_failure_per_file",
            ),
            models.UniqueConstraint(
                fields=["layer", "storage_key"],
                condition=models.Q(resolved_at__isnull=True, kind="orphan"),
                name="fixity_one_open_orphan_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.layer}/{self.storage_key}"
