"""lakeweb settings, read from the environment.

With no variables set this is the *embedded default* (SQLite, one folder per
layer, a file-backed Celery broker); see ``.env.example`` for every variable.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("LAKEWEB_DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _persisted_secret_key() -> str:
    """A random key generated once and kept in the data folder (embedded mode)."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _persisted_secret_key()
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "django_prometheus",
    "lakeweb",
    "catalog",
    "provenance",
    "backups",
]

MIDDLEWARE = [
    # First and last: request counts and latencies for /metrics.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Then: every line logged while the request runs carries its id.
    "lakeweb.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, which reads the body: uploads keep their names as sent.
    "lakeweb.multipart.SentFileNamesMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "lakeweb.urls"
WSGI_APPLICATION = "lakeweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'lakeweb.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker share the file: WAL lets readers go on
    # while one writes, IMMEDIATE avoids upgrade deadlocks between them.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The same backends, counting queries and their errors for /metrics.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------
# Rendered catalog results and tallies (keyed by catalog version), allauth's
# login rate limits and, when shared, sessions. Without CACHE_URL each process
# keeps its own: right for one machine. Several web processes or machines
# should share one (compose: redis://cache:6379/0, a Redis of its own beside
# the broker's), so that rate limits hold across them.
CACHE_URL = env.str("CACHE_URL", default="")
CACHES = {"default": env.cache_url_config(CACHE_URL or "locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # A cache outage is not a site outage (lakeweb/cache.py): while Redis fails
    # every read is a miss and every write is skipped, so sessions come from the
    # database; the login rate limits are then counted in each process.
    CACHES["default"]["BACKEND"] = "lakeweb.cache.FailSoftRedisCache"
if CACHE_URL:
    # Sessions read from the shared cache, written through to the database.
    # Not with per-process caches: a logout would not reach the other processes.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Accounts -----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # ModelBackend, with permissions read in one query (the backends after it reuse them).
    "lakeweb.permissions.OneQueryPermissions",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "catalog:dataset_list"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_ADAPTER = "lakeweb.accounts.AccountAdapter"
# Accounts are made by admins (Django admin or ``manage.py sync_groups``);
# open signup is off unless a lab asks for it.
LAKEWEB_OPEN_SIGNUP = env.bool("LAKEWEB_OPEN_SIGNUP", default=False)
# Viewers' read-only browsing without an account (SPEC §1).
LAKEWEB_PUBLIC_BROWSING = env.bool("LAKEWEB_PUBLIC_BROWSING", default=False)
# /metrics answers a bearer token, or addresses of these networks (lakeweb/metrics.py).
LAKEWEB_METRICS_TOKEN = env.str("LAKEWEB_METRICS_TOKEN", default="")
LAKEWEB_METRICS_ALLOW = [
    ipaddress.ip_network(network.strip(), strict=False)
    for network in env.list("LAKEWEB_METRICS_ALLOW", default=["127.0.0.1/32", "::1/128"])
    if network.strip()
]


# --- Login throttling (lakeweb/accounts.py) and invitations (sync_groups), issue 14 --
# Failed logins allowed per window ("5/5m": 5 in 5 minutes), counted in the
# cache: per (address, account) pair, per account from anywhere, per address
# over all accounts. A flood against one account spends only the pair's
# allowance of its address, so others behind the same NAT still sign in.
def _login_rate(name: str, default: str) -> str:
    value = env.str(name, default=default)
    if not re.fullmatch(r"[1-9][0-9]{0,5}/[1-9]?[0-9]{0,4}[smhd]", value):
        raise ImproperlyConfigured(f"{name}={value!r}: write a count and a window, e.g. 5/5m")
    return value


LAKEWEB_LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = _login_rate(
    "LAKEWEB_LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS", "5/5m"
)
LAKEWEB_LOGIN_FAILURES_PER_ACCOUNT = _login_rate("LAKEWEB_LOGIN_FAILURES_PER_ACCOUNT", "30/15m")
LAKEWEB_LOGIN_FAILURES_PER_ADDRESS = _login_rate("LAKEWEB_LOGIN_FAILURES_PER_ADDRESS", "100/15m")
# Proxies (CIDRs, comma-separated) whose X-Forwarded-For is believed; empty:
# the client is REMOTE_ADDR and the header is ignored (lakeweb/client_address.py).
LAKEWEB_TRUSTED_PROXIES = env.list("LAKEWEB_TRUSTED_PROXIES", default=[])
# The site's address as users reach it, for links in mail sent outside a
# request (``manage.py sync_groups`` invitations).
LAKEWEB_SITE_URL = env.str("LAKEWEB_SITE_URL", default="http://localhost:8000")
ACCOUNT_RATE_LIMITS = {
    # allauth's "login" limit (30 login posts a minute per address, right or
    # wrong) would let one account's flood refuse everyone behind that address;
    # the failed-login buckets below bound password checks instead.
    "login": "",
    "login_failed": f"{LAKEWEB_LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS}/key",
    "login_failed_account": f"{LAKEWEB_LOGIN_FAILURES_PER_ACCOUNT}/key",
    "login_failed_address": f"{LAKEWEB_LOGIN_FAILURES_PER_ADDRESS}/ip",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- JSON API (lakeweb/api.py, SPEC §3 item 6) -------------------------------------
# Scripts send "Authorization: Token <key>" (lakeweb/tokens: stored hashed, made
# on the API token page or with ``manage.py api_token_create``); the browsable
# API uses the session.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns "not logged in" into 401.
        # Hashed tokens (lakeweb/tokens), each use recorded in the audit trail.
        "lakeweb.tokens.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "lakeweb.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "lakeweb.api.exception_handler",
    # JSON bodies are bounded before parsing (size, nesting, text: lakeweb.api_parsers).
    "DEFAULT_PARSER_CLASSES": [
        "lakeweb.api_parsers.JSONBodyParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# The largest JSON body the API reads (a registration's metadata): 413 past it.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "lakeweb API",
    "DESCRIPTION": "Datasets, files, provenance and backups of a lakeweb data lake.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["lakeweb.api.CanBrowse"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LayerEnum": "catalog.models.Layer",
        "DatasetStatusEnum": "catalog.models.DatasetStatus",
        "JobStatusEnum": "lakeweb.jobs.models.JobStatus",
    },
}

# --- Lake storage (lakeweb/storage.py) ---------------------------------------------
LAKEWEB_LAYERS = ("raw", "processed", "curated", "archive")
LAKEWEB_STORAGE = env.str("LAKEWEB_STORAGE", default="filesystem")  # or "s3"
# PostgreSQL text search configuration: "simple" matches words as typed in any
# language (sample ids stay whole); "english" and others add stemming.
LAKEWEB_SEARCH_CONFIG = env.str("LAKEWEB_SEARCH_CONFIG", default="simple")
LAKEWEB_STORAGE_DIR = Path(env.str("LAKEWEB_STORAGE_DIR", default=str(DATA_DIR / "storage")))
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="") or None
S3_PUBLIC_ENDPOINT_URL = env.str("S3_PUBLIC_ENDPOINT_URL", default="") or None
S3_REGION = env.str("S3_REGION", default="us-east-1")
S3_ACCESS_KEY_ID = env.str("S3_ACCESS_KEY_ID", default="") or None
S3_SECRET_ACCESS_KEY = env.str("S3_SECRET_ACCESS_KEY", default="") or None
S3_ADDRESSING_STYLE = env.str("S3_ADDRESSING_STYLE", default="path")
S3_BUCKETS = {
    layer: env.str(f"S3_BUCKET_{layer.upper()}", default=f"lakeweb-{layer}")
    for layer in LAKEWEB_LAYERS
}
# Buckets the API may register datasets from (POST /api/datasets/register/): the
# app's credentials may read more than members should copy from. None by default,
# which refuses every registration; the lake's own buckets are never allowed.
REGISTER_BUCKETS = env.list("REGISTER_BUCKETS", default=[])
S3_PRESIGNED_URL_SECONDS = env.int("S3_PRESIGNED_URL_SECONDS", default=300)
# Fail fast on a stalled store (lakeweb/storage/s3client.py), so that a page
# shows a StorageError before gunicorn kills its worker at 30 s. One S3 call
# waits at most S3_MAX_ATTEMPTS x (connect + read) plus a backoff under 1 s:
# ~21 s when the store accepts connections but never answers (2 x 10 s), 6 s
# when nothing answers at all (2 x 3 s), 27 s at the very worst. The read
# timeout bounds each wait for bytes, not a whole transfer. Workers are not
# under gunicorn's clock: compose gives them a longer read timeout, for
# server-side copies that answer only when done.
S3_CONNECT_TIMEOUT = env.float("S3_CONNECT_TIMEOUT", default=3.0)
S3_READ_TIMEOUT = env.float("S3_READ_TIMEOUT", default=10.0)
S3_MAX_ATTEMPTS = max(1, env.int("S3_MAX_ATTEMPTS", default=2))
# Raw is write-once: S3 Object Lock with a default retention (SPEC §2).
RAW_RETENTION_DAYS = env.int("RAW_RETENTION_DAYS", default=90)
RAW_RETENTION_MODE = env.str("RAW_RETENTION_MODE", default="GOVERNANCE")
# Archive lifecycle: after N days objects move to a cold storage class when one
# is named. Nothing expires: snapshots live in the backup store (BACKUP_*).
ARCHIVE_LIFECYCLE_DAYS = env.int("ARCHIVE_LIFECYCLE_DAYS", default=180)
ARCHIVE_STORAGE_CLASS = env.str("ARCHIVE_STORAGE_CLASS", default="")

# --- Archive cold tier (README "Cold tier") ------------------------------------------
# With ARCHIVE_STORAGE_CLASS set to GLACIER or DEEP_ARCHIVE (another name, such as a
# MinIO tier, only names the lifecycle rule's class), datasets promoted into
# archive are stored in that class and read only after a restore request: S3
# RestoreObject with this tier, for this many days; on the filesystem store the
# cold folder's files read ARCHIVE_FS_THAW_SECONDS after the request. A periodic
# task looks at restores under way every ARCHIVE_RESTORE_CHECK_SECONDS.
ARCHIVE_RESTORE_TIER = env.str("ARCHIVE_RESTORE_TIER", default="Standard")
if ARCHIVE_RESTORE_TIER not in ("Standard", "Bulk", "Expedited"):
    raise ImproperlyConfigured("ARCHIVE_RESTORE_TIER must be Standard, Bulk or Expedited")
ARCHIVE_RESTORE_DAYS = env.int("ARCHIVE_RESTORE_DAYS", default=7)
if not 1 <= ARCHIVE_RESTORE_DAYS <= 365:
    raise ImproperlyConfigured("ARCHIVE_RESTORE_DAYS must be from 1 to 365")
ARCHIVE_FS_THAW_SECONDS = max(0, env.int("ARCHIVE_FS_THAW_SECONDS", default=60))
ARCHIVE_RESTORE_CHECK_SECONDS = max(10, env.int("ARCHIVE_RESTORE_CHECK_SECONDS", default=300))
# --- end of the archive cold tier ----------------------------------------------------

# --- Uploads ------------------------------------------------------------------------
# Most files in one upload, however they are sent: the start of a resumable
# upload lists them all, and the server holds that list while it checks it.
UPLOAD_MAX_FILES = env.int("UPLOAD_MAX_FILES", default=100_000)
# Most files in one request: a post without JavaScript sends all its files at once.
DATA_UPLOAD_MAX_NUMBER_FILES = min(
    UPLOAD_MAX_FILES, env.int("UPLOAD_MAX_REQUEST_FILES", default=10_000)
)
# The start of an upload lists every file (path and size): room for
# UPLOAD_MAX_FILES files whose paths average ~600 bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("UPLOAD_MAX_FIELDS", default=20_000)
# Resumable uploads: chunk size (at least S3's 5 MiB part minimum; unset, the
# store's own: see LayerStore.upload_chunk_size) and how long an upload may sit
# idle before a periodic task removes what it stored.
UPLOAD_CHUNK_SIZE = (
    max(env.int("UPLOAD_CHUNK_SIZE"), 5 * 1024 * 1024) if env.str("UPLOAD_CHUNK_SIZE", "") else None
)
UPLOAD_ABANDON_HOURS = env.int("UPLOAD_ABANDON_HOURS", default=48)
# How long a chunk that arrived ahead of its predecessor waits for its turn
# to be hashed before the client is told to send it again.
UPLOAD_ORDER_WAIT_SECONDS = env.float("UPLOAD_ORDER_WAIT_SECONDS", default=10.0)
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

# --- Backups ------------------------------------------------------------------------
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=4)
# The backup store (lakeweb/storage/backupstore.py), apart from the layers it
# protects: "filesystem" (a folder, BACKUP_DIR) or "s3" (BACKUP_S3_BUCKET on
# BACKUP_S3_ENDPOINT_URL). Empty: the same kind as LAKEWEB_STORAGE. The S3
# endpoint, region and keys left empty are the layers' own (S3_*).
BACKUP_STORAGE = env.str("BACKUP_STORAGE", default="")
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(DATA_DIR / "backups")))
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="lakeweb-backups")
BACKUP_S3_ENDPOINT_URL = env.str("BACKUP_S3_ENDPOINT_URL", default="") or None
BACKUP_S3_REGION = env.str("BACKUP_S3_REGION", default="") or None
BACKUP_S3_ACCESS_KEY_ID = env.str("BACKUP_S3_ACCESS_KEY_ID", default="") or None
BACKUP_S3_SECRET_ACCESS_KEY = env.str("BACKUP_S3_SECRET_ACCESS_KEY", default="") or None
# Object Lock (governance) days of a backups bucket lakeweb creates itself: at
# least the longest a snapshot is kept (weekly: BACKUP_KEEP_WEEKLY weeks). 0: none.
BACKUP_LOCK_DAYS = env.int("BACKUP_LOCK_DAYS", default=7 * BACKUP_KEEP_WEEKLY + 7)
# A blob no kept snapshot names is removed this many days after a snapshot last used it.
BACKUP_GC_GRACE_DAYS = env.int("BACKUP_GC_GRACE_DAYS", default=7)
# Objects a snapshot or a restore copies at once (server-side copies wait on the store).
BACKUP_CONCURRENCY = env.int("BACKUP_CONCURRENCY", default=8)

# --- Celery and jobs (lakeweb/jobs) ---------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# A job's lease: a worker renews it every quarter of this while it works; once
# it lapses the sweep (every JOBS_SWEEP_SECONDS) gives the job to another
# worker. A lost worker's job thus runs again within about three minutes.
JOBS_LEASE_SECONDS = env.int("JOBS_LEASE_SECONDS", default=120)
JOBS_SWEEP_SECONDS = env.int("JOBS_SWEEP_SECONDS", default=60)
# A queued job sent this long ago and not started is sent again, in case the
# broker lost it (a duplicate does nothing).
JOBS_RESEND_AFTER_SECONDS = env.int("JOBS_RESEND_AFTER_SECONDS", default=900)
# How long a worker waits out a database restart before giving the job up to the sweep.
JOBS_DB_PATIENCE_SECONDS = env.int("JOBS_DB_PATIENCE_SECONDS", default=60)
JOBS_RETRY_BACKOFF = env.int("JOBS_RETRY_BACKOFF", default=5)
JOBS_RETRY_BACKOFF_MAX = env.int("JOBS_RETRY_BACKOFF_MAX", default=300)
# Files a promotion copies at once (server-side copies wait on the store, not on us).
PROMOTE_CONCURRENCY = env.int("PROMOTE_CONCURRENCY", default=8)
# Past its kind's time limit an attempt is told to stop; this much later it is killed.
JOBS_HARD_LIMIT_GRACE = 60
# The longest time limit of any kind (backups): a message is never delivered
# twice while its attempt is alive, because the broker waits longer than that.
JOBS_LONGEST_SECONDS = env.int("JOBS_LONGEST_SECONDS", default=12 * 3600)
if CELERY_BROKER_URL == "filesystem://":
    # Embedded default: a folder is the queue, so `make run` needs no service.
    _queue = DATA_DIR / "queue"
    (_queue / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_queue / "processed"),
        "control_folder": str(_queue / "control"),  # else kombu writes ./control
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": JOBS_LONGEST_SECONDS + 2 * JOBS_HARD_LIMIT_GRACE,
        # A request that queues work must not hang on a dead broker: the job
        # row is the outbox, and the sweep sends it later.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
# Quick work on "default", long work on "long", pipeline runs on "pipelines".
# A worker started without -Q serves all three; compose runs one per queue.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = {name: {"routing_key": name} for name in ("default", "long", "pipelines")}
CELERY_TASK_IGNORE_RESULT = True  # progress and results live on job rows
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Tasks outside the job runner (the sweep, clean-ups) get these unless they set their own.
CELERY_TASK_SOFT_TIME_LIMIT = 3600
CELERY_TASK_TIME_LIMIT = 3600 + JOBS_HARD_LIMIT_GRACE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers log through LOGGING above (the same format and request ids), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "lakeweb-jobs-sweep": {"task": "lakeweb.jobs.sweep", "schedule": float(JOBS_SWEEP_SECONDS)},
    "catalog-cold-restores-watch": {
        "task": "catalog.cold_restores_watch",
        "schedule": float(ARCHIVE_RESTORE_CHECK_SECONDS),
    },
}
CELERY_TIMEZONE = TIME_ZONE

# --- Email --------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="lakeweb <lakeweb@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Pipelines (provenance/pipelines) ------------------------------------------------
# Modules that register pipelines with @pipeline; a lab adds its own module here.
LAKEWEB_PIPELINE_MODULES = env.list(
    "LAKEWEB_PIPELINE_MODULES",
    default=[
        "provenance.pipelines.tables",
        "provenance.pipelines.images",
        "provenance.pipelines.files",
    ],
)
# The longest a pipeline run may take (a pipeline may declare less).
PIPELINE_TIME_LIMIT = env.int("PIPELINE_TIME_LIMIT", default=6 * 3600)
# Where a worker writes a run's output before it is hashed into the target layer.
PIPELINE_STAGING_DIR = Path(
    env.str("PIPELINE_STAGING_DIR", default=str(DATA_DIR / "pipeline-staging"))
)
# Emails link back through LAKEWEB_SITE_URL (above).

# --- Security (production) ----------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A refused CSRF check answers JSON under /api/ and the usual page elsewhere.
CSRF_FAILURE_VIEW = "lakeweb.http_errors.csrf_failure"

# --- Content-Security-Policy (django-csp) -------------------------------------------
# One strict policy on every page: scripts, styles and fetches from this origin
# only, no inline code and no eval (templates load their code from static/;
# lakeweb/tests/test_csp.py holds them to it). Bootstrap's CSS draws its icons
# as data: SVGs. Presigned S3 downloads are navigations, which the policy does
# not govern. A view that sets its own policy keeps it (catalog/views/files.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Plain lines by default (``make run``); LOG_FORMAT=json writes one JSON object
# a line for a log system. Each line carries the request id (lakeweb/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
# --- Exports (RO-Crate, BagIt) -------------------------------------------------------
# Who publishes the lake's data (RO-Crate publisher, BagIt Source-Organization), and
# the license of datasets whose metadata states none (a URL or a name; unset: "not stated").
EXPORT_ORGANIZATION = env.str("EXPORT_ORGANIZATION", default="")
EXPORT_LICENSE = env.str("EXPORT_LICENSE", default="")

# --- Two-factor sign-in and the audit trail (issue 14) ------------------------------
# allauth's MFA: an authenticator app (TOTP) with recovery codes, and security
# keys / passkeys (WebAuthn, allauth's own JS served as static files).
INSTALLED_APPS += ["allauth.mfa", "auditlog"]
# After AuthenticationMiddleware: both read request.user. The audit context
# (actor, address) wraps the request; staff and curators without a second
# factor are led to set one up before anything else.
# Inserted before the last, django-prometheus's, which stays last.
MIDDLEWARE[-1:-1] = [
    "lakeweb.audit.middleware.AuditMiddleware",
    "lakeweb.twofactor.MFARequiredMiddleware",
]
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="lakeweb")
# A code is good once whatever the cache: its period is kept on the authenticator's row.
MFA_FORMS = {
    "authenticate": "lakeweb.twofactor_forms.AuthenticateForm",
    "reauthenticate": "lakeweb.twofactor_forms.ReauthenticateForm",
}
# WebAuthn needs HTTPS, except on localhost; DEBUG also lets plain http through.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Staff and curators must have a second factor (on unless a lab turns it off):
# without one they are sent to set it up at their next page (lakeweb/twofactor.py).
LAKEWEB_MFA_REQUIRED_FOR_STAFF = env.bool("LAKEWEB_MFA_REQUIRED_FOR_STAFF", default=True)
# django-auditlog (lakeweb/audit): the address comes from allauth's client-IP
# rule (LAKEWEB_TRUSTED_PROXIES), never from a header a client can forge.
AUDITLOG_DISABLE_REMOTE_ADDR = False
# A raw save is data loaded as it was (loaddata, a restore, a test's saved state), not a change.
AUDITLOG_DISABLE_ON_RAW_SAVE = True
# One entry per API token, address and this many seconds: every use would be a
# row per API request.
AUDIT_TOKEN_USE_SECONDS = env.int("AUDIT_TOKEN_USE_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "lakeweb.logs.ContextFilter"},
        "refusals": {"()": "lakeweb.logs.RefusalFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
            " %(user)s %(job_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context", "refusals"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The request line of lakeweb.logs says it once, with the request id.
        "django.server": {"level": "WARNING"},
    },
}

# --- Fixity (backups/fixity.py; README "Fixity") ------------------------------------
# Every stored object is read back and hashed at least once per cycle. Beat runs
# a batch every FIXITY_INTERVAL_MINUTES; each batch is sized from the objects
# count so that the cycle holds, within FIXITY_BYTES_PER_HOUR (0: no budget).
FIXITY_CYCLE_DAYS = max(1, env.int("FIXITY_CYCLE_DAYS", default=14))
FIXITY_INTERVAL_MINUTES = max(1, env.int("FIXITY_INTERVAL_MINUTES", default=60))
FIXITY_BYTES_PER_HOUR = max(0, env.int("FIXITY_BYTES_PER_HOUR", default=0))
FIXITY_CONCURRENCY = max(1, env.int("FIXITY_CONCURRENCY", default=4))
# Most files one batch takes, whatever the arithmetic asks (a batch is one job).
FIXITY_MAX_BATCH = max(1, env.int("FIXITY_MAX_BATCH", default=200_000))
# Objects younger than this are never taken for orphans (a write in progress).
FIXITY_ORPHAN_GRACE_HOURS = max(1, env.int("FIXITY_ORPHAN_GRACE_HOURS", default=24))

# --- Restore drills (backups/services/drill.py; README "Restore drills") -----------
# Weekly (a beat schedule), a drill restores DRILL_SAMPLE_SIZE datasets of the newest
# complete snapshot (half the oldest-drilled, the rest at random) into
# DRILL_SCRATCH_DIR on the worker, verifies every byte, and removes the copy.
DRILL_SAMPLE_SIZE = min(1000, max(1, env.int("DRILL_SAMPLE_SIZE", default=10)))
DRILL_SCRATCH_DIR = Path(env.str("DRILL_SCRATCH_DIR", default=str(DATA_DIR / "drills")))
