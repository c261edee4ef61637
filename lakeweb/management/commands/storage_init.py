"""Create every layer's bucket or folder (Object Lock on raw, lifecycle on archive)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from lakeweb.storage import layers_ensure


class Command(BaseCommand):
    help = "Create the four layer buckets (or folders) with their protections. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        for name in layers_ensure():
            self.stdout.write(f"ready: {name}")
