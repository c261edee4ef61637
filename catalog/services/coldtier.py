"""Restores from the archive's cold tier, as a job and a periodic watch (README "Cold tier").

``dataset_restore_request`` checks and writes the restore with its job in one
transaction; the job (``cold_restore_body``) asks the store to thaw each file
(S3 RestoreObject; a thaw note on the filesystem), which is safe to ask again,
so a job run twice does no harm. ``cold_restores_watch`` runs periodically:
it counts the files that read, in path order, and emails the requester once
all do, with the date the copies go cold again.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from lakeweb.jobs.runner import JobContext
from lakeweb.jobs.services import job_request
from lakeweb.links import site_link
from lakeweb.storage import StorageError, layer_store
from lakeweb.storage.cold import cold_tier

from ..models import ColdRestore, ColdRestoreState, Dataset, DatasetStatus
from ..selectors.coldtier import restore_permitted
from .errors import ActionRefused, PermissionRefused

# File states one pass of the watch reads in all (a HEAD each on S3): a pass
# stays short whatever the datasets' sizes; the next one goes on from there.
WATCH_FILES_PER_PASS = 5000
logger = logging.getLogger(__name__)

# Restores one pass looks at (those looked at longest ago first).
WATCH_RESTORES_PER_PASS = 200


def dataset_restore_request(*, dataset: Dataset, user: User) -> ColdRestore:
    """Queue the restore of a cold dataset's files; refused unless it is cold and allowed."""
    if not restore_permitted(dataset=dataset, user=user):
        raise PermissionRefused(
            "Only curators, and members for their own datasets, can request a restore."
        )
    if dataset.status != DatasetStatus.READY:
        raise ActionRefused(f"Only ready datasets can be restored; this one is {dataset.status}.")
    if not dataset.storage_class:
        raise ActionRefused(
            "This dataset is not in cold storage: its files can be read as they are."
        )
    try:
        with transaction.atomic():
            job = job_request(
                kind="cold_restore",
                requested_by=user,
                parameters={"dataset": str(dataset.pk)},
                subject=dataset,
            )
            return ColdRestore.objects.create(
                job=job,
                dataset=dataset,
                requested_by=user,
                storage_class=dataset.storage_class,
                tier=settings.ARCHIVE_RESTORE_TIER,
                days=settings.ARCHIVE_RESTORE_DAYS,
                files_total=dataset.file_count,
            )
    except IntegrityError:
        raise ActionRefused(
            "A restore of this dataset is already under way, or its files are readable now."
        ) from None


def cold_restore_body(ctx: JobContext) -> dict[str, Any]:
    """Ask the store to thaw every file of the dataset; the watch does the rest."""
    restore = ColdRestore.objects.select_related("dataset").get(job=ctx.job)
    tier = cold_tier(layer_store(restore.dataset.layer))
    files = list(restore.dataset.files.order_by("path").values_list("storage_key", flat=True))
    ctx.progress(0, len(files), f"asking for {len(files)} files", force=True)
    for done, key in enumerate(files, start=1):
        tier.thaw_request(key, days=restore.days, tier=restore.tier)
        ctx.progress(done, len(files))
    ColdRestore.objects.filter(pk=restore.pk, state=ColdRestoreState.REQUESTED).update(
        state=ColdRestoreState.THAWING, files_total=len(files)
    )
    return {"files": len(files), "tier": restore.tier, "days": restore.days}


def cold_restore_on_fail(job: Any, reason: str) -> None:
    """A restore whose requests could not all be made ends failed (a new one may be asked)."""
    ColdRestore.objects.filter(job=job).exclude(state=ColdRestoreState.EXPIRED).update(
        state=ColdRestoreState.FAILED
    )


def cold_restores_watch(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """One pass over restores under way and readable ones: count, notify, expire.

    At most WATCH_FILES_PER_PASS file states are read in all, so a pass stays
    short however many restores wait; those looked at longest ago go first.
    A restore whose store fails is logged and left for the next pass: it
    does not hold up the others.
    """
    now = now or timezone.now()
    expired = ColdRestore.objects.filter(state=ColdRestoreState.READY, expires_at__lte=now).update(
        state=ColdRestoreState.EXPIRED
    )
    thawing = ColdRestore.objects.filter(state=ColdRestoreState.THAWING).order_by(
        F("checked_at").asc(nulls_first=True), "created_at"
    )
    ready, budget = 0, WATCH_FILES_PER_PASS
    for restore in thawing.select_related("dataset", "requested_by")[:WATCH_RESTORES_PER_PASS]:
        if budget <= 0:
            break
        try:
            done, looked = cold_restore_check(restore=restore, now=now, budget=budget)
        except StorageError as exc:
            logger.warning("cold restore %s: %s", restore.pk, exc)
            ColdRestore.objects.filter(pk=restore.pk).update(checked_at=now)
            continue
        ready, budget = ready + done, budget - looked
    return {"expired": expired, "ready": ready}


def cold_restore_check(
    *, restore: ColdRestore, now: datetime.datetime, budget: int = WATCH_FILES_PER_PASS
) -> tuple[bool, int]:
    """Read the state of up to ``budget`` files not known readable yet.

    Returns whether the last file is readable now, and how many states were read.
    """
    tier = cold_tier(layer_store(restore.dataset.layer))
    keys = restore.dataset.files.order_by("path").values_list("storage_key", flat=True)
    first, looked = restore.files_ready, 0
    expires = restore.expires_at
    for key in keys[first : first + budget]:
        looked += 1
        thaw = tier.thaw_status(key)
        if not thaw.readable:
            break  # restores end in about the order they were asked; look again next pass
        restore.files_ready += 1
        if thaw.expires_at is not None and (expires is None or thaw.expires_at < expires):
            expires = thaw.expires_at  # the dataset reads until its first file goes cold
    restore.expires_at, restore.checked_at = expires, now
    done = restore.files_ready >= restore.files_total
    if done:
        restore.state, restore.ready_at = ColdRestoreState.READY, now
    restore.save(update_fields=["files_ready", "expires_at", "checked_at", "state", "ready_at"])
    if done:
        cold_restore_notify(restore=restore)
    return done, looked


def cold_restore_notify(*, restore: ColdRestore) -> None:
    """Email the requester that every file reads now, and until when."""
    user = restore.requested_by
    if user is None or not user.email or restore.notified_at is not None:
        return
    dataset = restore.dataset
    until = (
        f"until {restore.expires_at:%Y-%m-%d %H:%M} UTC, when the copies go back to "
        f"{restore.storage_class}"
        if restore.expires_at
        else "from now on"
    )
    url = site_link("catalog:dataset_detail", dataset.pk)
    send_mail(
        subject=f"[lakeweb] {dataset.name} is readable",
        message=(
            f"All {restore.files_total} files of the archived dataset {dataset.name!r} "
            f"can be downloaded {until}.\n\nDataset page: {url}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    ColdRestore.objects.filter(pk=restore.pk).update(notified_at=timezone.now())
