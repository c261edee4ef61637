"""``manage.py restore <snapshot> [--dataset ID ...] [--into-empty]``: a restore job, run here.

Without ``--dataset`` every dataset of the snapshot that the catalog lacks
comes back; ``--into-empty`` also brings back users, groups and the events
of no dataset, and refuses a catalog or layers that hold anything. ``--list``
names the complete snapshots in the backup store.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backups.services import restore_request, snapshots_restorable
from lakeweb.errors import ActionRefused
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run


class Command(BaseCommand):
    help = "Restore datasets (or a whole lake into an empty instance) from a snapshot."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("snapshot", nargs="?", help="kind/label, as --list shows them")
        parser.add_argument("--dataset", action="append", default=[], metavar="ID")
        parser.add_argument("--into-empty", action="store_true")
        parser.add_argument("--list", action="store_true", help="list complete snapshots")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for name in snapshots_restorable():
                self.stdout.write(name)
            return
        if not options["snapshot"]:
            raise CommandError("Name a snapshot (see --list).")
        try:
            job = restore_request(
                snapshot=options["snapshot"],
                dataset_ids=options["dataset"],
                into_empty=options["into_empty"],
                user=None,
            )
        except ActionRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restore job {job.pk} queued; running it here")
        job_run(job_id=job.pk)  # None when a worker took it first: then wait for it
        job = self._wait(job)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"restore {job.status}: {job.error}")
        self.stdout.write(self.style.SUCCESS(f"restored {job.result.get('restored', 0)} datasets"))

    def _wait(self, job: Job) -> Job:
        """Until the job ends: run again here what came back to the queue (a storage
        error that may pass), once its backoff is over; else a worker has it."""
        job.refresh_from_db()
        while not job.is_finished:
            time.sleep(1)
            job.refresh_from_db()
            due = job.not_before is None or job.not_before <= timezone.now()
            if job.status == JobStatus.QUEUED and due:
                job_run(job_id=job.pk)
                job.refresh_from_db()
            self.stdout.write(f"{job.progress_done} of {job.progress_total or '?'} files")
        return job
