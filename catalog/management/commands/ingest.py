"""``manage.py ingest``: register a local folder or an S3 prefix as a raw dataset (SPEC §3.1)."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from catalog.models import MetadataFormVersion, Source
from catalog.selectors.forms import metadata_form_find
from catalog.services import DatasetDraft, form_version_current
from catalog.services.ingest import dataset_ingest, metadata_pairs
from lakeweb.errors import ActionRefused
from lakeweb.storage import StorageError
from lakeweb.templatetags.sizes import size_iec

# A folder full of bad names should not print a million lines.
MAX_PROBLEMS_SHOWN = 20


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


class ProgressBar:
    """One line on stderr, redrawn in place: files, bytes and throughput."""

    width = 20

    def __init__(self, stream: OutputWrapper, *, interval: float = 0.2) -> None:
        self.stream = stream
        self.interval = interval
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.drawn = False

    def __call__(
        self, done_files: int, total_files: int, done_bytes: int, total_bytes: int
    ) -> None:
        now = time.monotonic()
        if done_files < total_files and now - self.drawn_at < self.interval:
            return
        self.drawn_at = now
        share = done_bytes / total_bytes if total_bytes else done_files / max(total_files, 1)
        filled = min(self.width, int(share * self.width))
        rate = done_bytes / max(now - self.started, 1e-6)
        self._write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done_files}/{total_files} files, "
            f"{size_iec(done_bytes)}/{size_iec(total_bytes)}, {size_iec(rate)}/s "
        )
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self._write("\n")

    def _write(self, text: str) -> None:
        # Plain text (stderr is styled as errors by default), no newline added.
        self.stream.write(text, style_func=str, ending="")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Register a local folder or an S3 prefix (s3://bucket/prefix/, on the lake's S3 "
        "endpoint) as a new raw dataset, with the checks and provenance of an upload."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "origin", metavar="SOURCE", help="A local folder or s3://bucket/prefix/"
        )
        parser.add_argument("--source", required=True, help="Slug of the data source")
        parser.add_argument("--form", required=True, help="Metadata form: exact name or id")
        parser.add_argument("--name", help="Dataset name (default: the folder's name)")
        parser.add_argument("--external-id", default="", help="e.g. GSE2034")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--tag", dest="tags", action="extend", nargs="+", default=[], metavar="TAG"
        )
        parser.add_argument(
            "--metadata",
            action="extend",
            nargs="+",
            default=[],
            metavar="KEY=VALUE",
            help="One experiment's form values; repeat a key for each multiple-choice value",
        )
        parser.add_argument("--owner", metavar="EMAIL", help="Default: the first superuser")
        parser.add_argument("--workers", type=_positive, default=4, help="Parallel copies")

    def handle(self, *args: Any, **options: Any) -> None:
        source = self._source(options["source"])
        version = self._form_version(options["form"])
        owner = self._owner(options["owner"])
        origin = options["origin"]
        progress = ProgressBar(self.stderr)
        try:
            experiment = metadata_pairs(form_version=version, pairs=options["metadata"])
            draft = DatasetDraft(
                owner=owner,
                name=options["name"] or _default_name(origin),
                source=source,
                experiments=[experiment],
                form_version=version,
                description=options["description"],
                external_id=options["external_id"],
                tags=options["tags"],
            )
            dataset = dataset_ingest(
                draft=draft, origin=origin, workers=options["workers"], progress=progress
            )
        except ValidationError as exc:
            raise CommandError(_problems(exc.messages)) from exc
        except (ActionRefused, StorageError) as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: nothing was kept (a dataset begun is marked failed).", returncode=130
            ) from None
        finally:
            progress.close()
        self.stdout.write(f"dataset: {dataset.pk}")
        self.stdout.write(f"files: {dataset.file_count}")
        self.stdout.write(f"bytes: {dataset.total_size} ({size_iec(dataset.total_size)})")
        self.stdout.write(f"manifest: {dataset.manifest_digest}")

    def _source(self, slug: str) -> Source:
        try:
            return Source.objects.get(slug=slug)
        except Source.DoesNotExist:
            known = ", ".join(Source.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"Unknown source '{slug}'. Known sources: {known}.") from None

    def _form_version(self, name_or_id: str) -> MetadataFormVersion:
        form = metadata_form_find(text=name_or_id)
        if form is None:
            raise CommandError(f"Unknown metadata form '{name_or_id}' (give its exact name or id).")
        if form.retired:
            raise CommandError(f"Metadata form '{form.name}' is retired; choose a current form.")
        return form_version_current(form=form)

    def _owner(self, email: str | None) -> AbstractBaseUser:
        users = get_user_model().objects.filter(is_active=True)
        if email:
            matches = list(users.filter(email__iexact=email)[:2])
            if len(matches) != 1:
                what = "No active user has" if not matches else "Several users have"
                raise CommandError(f"{what} the email {email}.")
            owner = matches[0]
        else:
            owner = users.filter(is_superuser=True).order_by("pk").first()
            if owner is None:
                raise CommandError("There is no superuser to own the dataset; pass --owner EMAIL.")
        if not owner.has_perm("catalog.add_dataset"):
            raise CommandError(f"{owner} may not add datasets (needs catalog.add_dataset).")
        return owner


def _default_name(origin: str) -> str:
    if origin.startswith("s3://"):
        return origin.rstrip("/").rsplit("/", 1)[-1]
    return os.path.basename(os.path.abspath(origin)) or origin


def _problems(messages: list[str]) -> str:
    shown = messages[:MAX_PROBLEMS_SHOWN]
    if len(messages) > MAX_PROBLEMS_SHOWN:
        shown.append(f"… and {len(messages) - MAX_PROBLEMS_SHOWN} more problems.")
    return "\n".join(shown)
