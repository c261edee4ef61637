"""Models of the project package: the one job model (lakeweb/jobs), API tokens (lakeweb/tokens)."""

from __future__ import annotations

from .jobs.models import Job, JobStatus
from .tokens.models import ApiToken

__all__ = ["ApiToken", "Job", "JobStatus"]
