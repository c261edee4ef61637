"""Models of the project package: the one job model (lakeweb/jobs)."""

from __future__ import annotations

from .jobs.models import Job, JobStatus

__all__ = ["Job", "JobStatus"]
