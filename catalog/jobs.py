"""The catalog's kinds of long work, registered with the job runner."""

from __future__ import annotations

from lakeweb.jobs.registry import QUEUE_DEFAULT, job_kind

from .services.coldtier import cold_restore_body, cold_restore_on_fail
from .services.promote import promotion_body, promotion_on_fail
from .services.register import registration_body, registration_on_fail

job_kind(
    "promotion",
    label="Promotion",
    queue=QUEUE_DEFAULT,
    time_limit=6 * 3600,
    on_fail=promotion_on_fail,
)(promotion_body)

job_kind(
    "registration",
    label="Registration of an S3 prefix",
    queue=QUEUE_DEFAULT,
    time_limit=6 * 3600,
    on_fail=registration_on_fail,
)(registration_body)

job_kind(
    "cold_restore",
    label="Restore from the cold tier",
    queue=QUEUE_DEFAULT,
    time_limit=3600,
    on_fail=cold_restore_on_fail,
)(cold_restore_body)
