"""Settings for the AInfluencer back-office.

Everything that differs between machines comes from the environment (or an
optional `.env` file next to manage.py). Production differs from development
only by environment variables: DEBUG defaults to off, and with DEBUG off a real
SECRET_KEY and CRYPTOGRAPHY_KEY are required at start-up.
"""

import datetime as dt
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.object_storage import media_link_storage

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_INSECURE_PREFIX = "django-insecure-"


def _secret(name: str, *, min_length: int) -> str:
    """A secret from the environment; a throwaway default only with DEBUG on."""
    value = env.str(name, default="")
    if value and not value.startswith(_INSECURE_PREFIX) and len(value) >= min_length:
        return value
    if DEBUG:
        # Development only: `make` writes random keys to .env, so this default is
        # reached only when someone runs manage.py by hand without one.
        return value or f"{_INSECURE_PREFIX}{name.lower()}-development-only-not-secret"
    raise ImproperlyConfigured(
        f"{name} must be set to a random value of at least {min_length} characters "
        f"when DEBUG is off (see README, 'Deployment')."
    )


SECRET_KEY = _secret("SECRET_KEY", min_length=50)
# Key material for django-cryptography (platform_accounts.auth_data). Note that
# django-cryptography also signs with SECRET_KEY: rotating either one needs
# `manage.py rotate_credentials_key`.
CRYPTOGRAPHY_KEY = _secret("CRYPTOGRAPHY_KEY", min_length=32)

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The project's own apps; "config" holds project-wide management commands
# (seed_demo, ensure_local_admin, ...). Their loggers also feed system_logs.
PROJECT_APPS = (
    "characters",
    "content",
    "platforms",
    "automation",
    "analytics",
    "logs",
    "config",
)
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    # API tokens stored hashed, with expiry (config/api_auth.py)
    "knox",
    "django_filters",
    "drf_spectacular",
    # Swagger UI served from our static files: no CDN (the machines are offline)
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "dbbackup",
    # the audit trail: triggers (pgtrigger) write event rows (pghistory)
    "pgtrigger",
    "pghistory",
    # CSV import/export in the admin (bulk scheduling, platforms/resources.py)
    "import_export",
    *PROJECT_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # the audit trail's context for writes: door, user, request (logs/audit.py)
    "logs.audit.AuditContextMiddleware",
    # admin pages in the operator's own time zone (config/preferences.py)
    "config.preferences.OperatorTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy on every page (CONTENT_SECURITY_POLICY below)
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "config.preferences.operator_timezone",
            ],
        },
    },
]
# Django's renderer, with its stock widget templates written in Python (a third
# of the character page's CPU was widget templates; config/form_renderer.py)
FORM_RENDERER = "config.form_renderer.FastWidgetRenderer"

# --- Database -----------------------------------------------------------------
# The project's backend adds the models' ON DELETE actions to PostgreSQL's own
# foreign keys (Django 5.2 emulates them in Python only).
DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default="postgres://ainfluencer@127.0.0.1:5433/ainfluencer" if DEBUG else "",
    )
}
if not DATABASES["default"].get("NAME"):
    raise ImproperlyConfigured("DATABASE_URL must be set when DEBUG is off.")
DATABASES["default"]["ENGINE"] = "config.db_backend"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
# django-environ cannot express the pool in DATABASE_URL (it would pass strings),
# so the pool is configured here. Celery workers run with DB_POOL=false: Celery
# closes the connection around every task, which defeats a pool.
if env.bool("DB_POOL", default=True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        "max_lifetime": 3600,
        "max_idle": 600,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)

# Optional read replica for heavy analytics reports (config/routers.py). Writes
# and migrations always go to "default"; under tests the alias mirrors default.
ANALYTICS_DATABASE_ALIAS = None
if env.str("ANALYTICS_DATABASE_URL", default=""):
    ANALYTICS_DATABASE_ALIAS = "analytics"
    DATABASES["analytics"] = env.db("ANALYTICS_DATABASE_URL")
    DATABASES["analytics"]["ENGINE"] = "config.db_backend"
    DATABASES["analytics"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["analytics"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.routers.AnalyticsReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and broker -----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6380/0" if DEBUG else "")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL must be set when DEBUG is off.")
# Fails open (config/cache.py): with Redis down, reads are "not cached" and the
# site keeps answering; short socket timeouts bound what an outage costs.
CACHES = {
    "default": {
        "BACKEND": "config.cache.FailOpenRedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="ainfluencer"),
        "TIMEOUT": 300,
        "OPTIONS": {
            "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
            "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=2.0),
        },
    }
}
# after a failed call, a process leaves Redis alone this long before trying again
REDIS_OUTAGE_RETRY_SECONDS = env.float("REDIS_OUTAGE_RETRY_SECONDS", default=5.0)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=900)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=840)
CELERY_RESULT_EXPIRES = 3600
# Longer than any task and any retry delay, or Redis redelivers a running task.
CELERY_VISIBILITY_TIMEOUT = 7200
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = False  # per task: only the idempotent ones set acks_late
CELERY_TASK_REJECT_ON_WORKER_LOST = False
# Off: a broker blip must not kill running drains (they need only PostgreSQL
# and keep their journal there; a redelivered drain is harmless). On, it
# SIGTERMs them (an "outcome unknown" each) and can crash the worker on
# reconnection (celery/celery#9250; seen in make chaos).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_IGNORE_RESULT = True
# django-celery-beat's DatabaseScheduler, waiting out database outages instead
# of exiting (config/beat_scheduler.py).
CELERY_BEAT_SCHEDULER = "config.beat_scheduler:ResilientDatabaseScheduler"
CELERY_BEAT_SYNC_EVERY = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Auth -----------------------------------------------------------------------
# One query for a user's permissions (the API checks them on every request).
AUTHENTICATION_BACKENDS = ["config.auth_backend.OneQueryModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# 24-hour times with their zone's abbreviation (config/formats/en/formats.py)
FORMAT_MODULE_PATH = ["config.formats"]

# --- Files ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / ".local" / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".local" / "media")))
BACKUP_ROOT = Path(env.str("BACKUP_ROOT", default=str(BASE_DIR / ".local" / "backups")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
    "dbbackup": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Backups hold every row (credentials encrypted, the rest not): owner only.
        "OPTIONS": {
            "location": str(BACKUP_ROOT),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
}
# django-import-export (CSV in the admin): an uploaded file waits for its
# confirmation in the shared Redis cache under a random key, not in a temp
# folder of one web process; CSV only; import needs add_, export view_.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.CacheStorage"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
# --- Backups (django-dbbackup; see docs/operations.md) -------------------------------
# Our ENGINE is the project's own backend, which dbbackup does not know: without
# this mapping it would fall back to its DjangoConnector (a JSON dump holding the
# credentials in clear). PgDumpBinaryConnector writes `pg_dump --format=custom`
# (already compressed: never add -z) and restores with pg_restore
# --single-transaction --clean --if-exists.
DBBACKUP_CONNECTOR_MAPPING = {
    "config.db_backend": "config.ops.backups.PartitionAwarePgDumpConnector",
}
# The extensions the migrations create as the application's role (characters/0001).
# Dumps name them, so an extension a superuser added to the database
# (pg_stat_statements, by scripts/services.sh or a DBA) stays out of the dump:
# otherwise `pg_restore --clean` fails with "must be owner of extension" and a
# restore into a fresh database with "permission denied to create extension".
DB_EXTENSIONS = ("uuid-ossp", "pg_trgm", "pgcrypto")
DBBACKUP_CONNECTORS = {
    "default": {
        # dbbackup's PgDumpBinaryConnector with a restore that works over the
        # partitioned tables (analytics, system_logs): config/ops/backups.py
        "CONNECTOR": "config.ops.backups.PartitionAwarePgDumpConnector",
        "DUMP_SUFFIX": " ".join(f"--extension={name}" for name in DB_EXTENSIONS),
    },
}
# Only the primary is backed up (an analytics replica alias holds the same data).
DBBACKUP_DATABASES = ["default"]
DBBACKUP_HOSTNAME = env.str("DBBACKUP_HOSTNAME", default="ainfluencer")
# Retention: by count (dbbackup --clean / mediabackup --clean) and by age
# (`manage.py backup_prune`, run by the nightly task). Daily backups for 30 days.
DBBACKUP_CLEANUP_KEEP = env.int("DBBACKUP_CLEANUP_KEEP", default=30)
DBBACKUP_CLEANUP_KEEP_MEDIA = env.int("DBBACKUP_CLEANUP_KEEP_MEDIA", default=30)
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=30)
DBBACKUP_SEND_EMAIL = False

# --- Point-in-time recovery (pgBackRest; config/ops/pitr.py, docs/operations.md) -------
# The server archives its WAL with pgBackRest (archive_command); the nightly task
# adds a base backup next to the logical dump. pgBackRest itself reads its
# repository settings from its config file and PGBACKREST_* variables.
PITR_ENABLED = env.bool("PITR_ENABLED", default=True)
PITR_STANZA = env.str("PITR_STANZA", default="ainfluencer")
# scripts/services.sh writes this file for the local cluster; empty (or a file that
# does not exist) leaves pgBackRest to its defaults and PGBACKREST_* variables.
PITR_PGBACKREST_CONFIG = env.str(
    "PITR_PGBACKREST_CONFIG",
    default=str(BASE_DIR / ".local" / "pgbackrest" / "pgbackrest.conf"),
)
# pgBackRest and pg_ctl run as the cluster's OS user: the local cluster runs as
# `postgres` when make runs as root.
PITR_RUN_AS = env.str(
    "PITR_RUN_AS",
    default="postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else "",
)
# A new full base backup when the newest full one is older than this; a
# differential one otherwise.
PITR_FULL_BACKUP_DAYS = env.int("PITR_FULL_BACKUP_DAYS", default=7)
# Where `restore_to_time` puts its copies by default.
PITR_RESTORE_ROOT = Path(
    env.str("PITR_RESTORE_ROOT", default=str(BASE_DIR / ".local" / "pitr"))
)

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# JSON from outside (API bodies, admin JSON fields) nested deeper is refused (400).
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)
# The media library takes files up to this size (content/media.py); bigger
# uploads are refused with a form error and leave nothing behind.
MEDIA_UPLOAD_MAX_BYTES = env.int("MEDIA_UPLOAD_MAX_BYTES", default=500 * 1024 * 1024)

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api_auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Authenticated, and Django model permissions (view_* for reads) so that the
    # API and the admin agree on who may do what.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "config.api_permissions.ModelPermissions",
    ],
    # unknown filter names and orderings answer 400 naming the parameter
    "DEFAULT_FILTER_BACKENDS": [
        "config.api_filters.StrictFilterBackend",
        "config.api_filters.StrictOrderingFilter",
    ],
    # JSON in and out through orjson (config/api_renderers.py, api_parsers.py):
    # the same documents as DRF's, written and read several times faster; the
    # parser keeps the nesting limit (JSON_MAX_DEPTH) and the size limit
    "DEFAULT_RENDERER_CLASSES": [
        "config.api_renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["config.api_parsers.LimitedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.api_pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Throttle counters live in Redis: one atomic script per request, failing
    # open when Redis is down (config/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.AtomicUserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_THROTTLE_USER", default="2000/min")},
}
# What a web process keeps about an API token it has seen (config/api_gate.py):
# validated against Redis on every request (a revoke, a deactivation or a
# permission change counts from the next request); a change that sends no
# signal (a QuerySet.update(), SQL by hand) counts within this many seconds.
API_AUTH_CACHE_SECONDS = env.float("API_AUTH_CACHE_SECONDS", default=2.0)
# API tokens (django-rest-knox): a new token lives API_TOKEN_TTL_DAYS days
# (0: until revoked). Only a digest is stored; the token is shown once.
_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=90)
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(days=_TOKEN_TTL_DAYS) if _TOKEN_TTL_DAYS else None,
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": env.int("API_TOKEN_LIMIT_PER_USER", default=20),
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AInfluencer back-office API",
    "DESCRIPTION": "Characters, content, platform accounts, posts and schedules.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PlatformEnum": "platforms.models.Platform",
        "PostTypeEnum": "platforms.models.PostType",
        "CharacterStatusEnum": "characters.models.CharacterStatus",
        "ContentTypeEnum": "content.models.ContentContentType",
        "RuleContentTypeEnum": "automation.models.AutomationRuleContentType",
        "ApprovalStatusEnum": "content.models.ContentApprovalStatus",
        "JobStatusEnum": "content.models.ContentGenerationStatus",
        "PostStatusEnum": "platforms.models.PostStatus",
        "ScheduledPostStatusEnum": "platforms.models.ScheduledPostStatus",
        "ConnectionStatusEnum": "platforms.models.PlatformAccountConnectionStatus",
    },
}

# --- Security (production values come from the environment) ---------------------
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (docs/operations.md).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe /health/ over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) for the admin and the API docs: scripts
# only from our own origin (the admin has no inline script; Swagger UI's
# starter is served as a file by SpectacularSwaggerSplitView). Inline styles
# stay allowed (admin templates and Swagger UI use them); images may come from
# https (content thumbnails can be external URLs) and data: (Swagger's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

# --- Logging ----------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {
        # credentials never reach a log line, whoever logs them
        "scrub": {"()": "logs.handlers.ScrubFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scrub"],
        },
        # WARNING and above of the project's loggers, into system_logs
        "system_logs": {
            "class": "logs.handlers.SystemLogHandler",
            "level": "WARNING",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        **{
            app: {"handlers": ["system_logs"], "level": LOG_LEVEL}
            for app in PROJECT_APPS
        },
        "django.db.backends": {"level": "INFO"},
        # urllib3 logs every request URL at DEBUG, and the Telegram Bot API puts
        # the bot token in the URL: never below WARNING.
        "urllib3": {"level": "WARNING"},
        # Authlib's debug lines may carry token request bodies.
        "authlib": {"level": "WARNING"},
    },
}

# --- The audit trail (django-pghistory; logs/models.py) ----------------------------
# The event tables keep the related rows' ids unindexed and unconstrained: they
# are read per object (pgh_obj_id, pgh_created_at), and every index costs each
# audited write (the triggers' inserts).
import pghistory  # noqa: E402

PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)

# --- Project settings ----------------------------------------------------------
SYSTEM_LOG_RETENTION_DAYS = env.int("SYSTEM_LOG_RETENTION_DAYS", default=90)
# The audit trail (audit_* tables) has its own retention: 0 keeps it forever.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=0)
# The stuck-work detector flags scheduled posts due longer than this.
STUCK_POST_MINUTES = env.int("STUCK_POST_MINUTES", default=10)

# --- Platforms: live or dry run, adapters, app credentials -----------------------
# One switch: PLATFORM_DRY_RUN. Dry run swaps every platform's adapter for the
# dry-run adapter (nothing leaves the machine, posts are recorded as published
# to dry-run.invalid); live uses the real adapters. Nothing else (DEBUG
# included) changes what an adapter does. The admin shows which one is on.
PLATFORM_DRY_RUN = env.bool("PLATFORM_DRY_RUN", default=DEBUG)

# Events (logs/events.py, logs/outbox.py): who receives them, in order. Each
# is the dotted path of `consume(events) -> handle(event)`, idempotent per event.
EVENT_CONSUMERS = env.list(
    "EVENT_CONSUMERS",
    default=["automation.listeners.consume", "logs.notifications.consume"],
)
# The dispatcher is kicked at most once per this many ms after a commit.
EVENTS_KICK_INTERVAL_MS = env.int("EVENTS_KICK_INTERVAL_MS", default=1000)
EVENT_DISPATCH_BATCH = env.int("EVENT_DISPATCH_BATCH", default=300)
EVENT_DISPATCH_BUDGET = env.float("EVENT_DISPATCH_BUDGET", default=50.0)
# Longest one event's handling may take (a rule run): a drain starts no event
# it cannot finish within its budget.
EVENT_HANDLER_TIMEOUT = env.float("EVENT_HANDLER_TIMEOUT", default=5.0)
EVENT_LEASE_SECONDS = env.int("EVENT_LEASE_SECONDS", default=120)
EVENT_MAX_ATTEMPTS = env.int("EVENT_MAX_ATTEMPTS", default=5)
EVENT_RETRY_BASE_SECONDS = env.int("EVENT_RETRY_BASE_SECONDS", default=30)
# Dispatched events are kept this long (logs.tasks.purge_old_logs).
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=7)

# Notifications (logs/notifications.py, logs/webhooks.py): e-mail through
# Django's mail settings, outgoing webhooks from a delivery queue.
# EMAIL_URL: smtp://user:password@host:587/?tls=True (django-environ);
# development prints mails on the console.
_email = env.email_url(
    "EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"
)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ainfluencer@localhost")
# Where links in e-mails and webhook texts lead (the admin's address); unset:
# no links.
NOTIFICATIONS_BASE_URL = env.str("NOTIFICATIONS_BASE_URL", default="").rstrip("/")
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
# Webhooks go to public addresses only unless this is on (development,
# loopback receivers in tests).
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# Backoff between attempts: base, 2*base, 4*base ... at most MAX (seconds).
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
WEBHOOK_RETRY_MAX_SECONDS = env.int("WEBHOOK_RETRY_MAX_SECONDS", default=3600)
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=60)
WEBHOOK_BATCH = env.int("WEBHOOK_BATCH", default=50)
WEBHOOK_BUDGET = env.float("WEBHOOK_BUDGET", default=50.0)
# Deliveries (done or failed) are kept this long (logs.tasks.purge_old_logs).
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)

_DRY_RUN = "platforms.adapters.dryrun.DryRunAdapter"
# The platforms that have an API adapter. A platform missing here (OnlyFans,
# which has no API) is published by hand in both modes: its due posts become
# tasks for a person ("To post by hand" in the admin), never a failure and
# never a pretend publish.
LIVE_PLATFORM_ADAPTERS = {
    "telegram": "platforms.adapters.telegram.TelegramAdapter",
    "instagram": "platforms.adapters.instagram.InstagramAdapter",
    "facebook": "platforms.adapters.facebook.FacebookAdapter",
    "twitter": "platforms.adapters.x.XAdapter",
    "youtube": "platforms.adapters.youtube.YouTubeAdapter",
}
# platform -> adapter class; "*" (tests only) is the fallback for the rest.
PLATFORM_ADAPTERS = {
    platform: _DRY_RUN if PLATFORM_DRY_RUN else path
    for platform, path in LIVE_PLATFORM_ADAPTERS.items()
}
# An assisted post or engagement action still waiting this long after its time
# is flagged by the stuck-work detector.
ASSISTED_OVERDUE_MINUTES = env.int("ASSISTED_OVERDUE_MINUTES", default=60)
TELEGRAM_API_BASE = env.str("TELEGRAM_API_BASE", default="https://api.telegram.org")
TELEGRAM_CONNECT_TIMEOUT = env.float("TELEGRAM_CONNECT_TIMEOUT", default=5.0)
TELEGRAM_READ_TIMEOUT = env.float("TELEGRAM_READ_TIMEOUT", default=20.0)
# The platforms' HTTP APIs: base URLs and versions from the environment, so
# tests (and staging) point them at loopback fakes. One connect/read timeout
# for the HTTP adapters; each adapter's call_timeout adds up its calls.
PLATFORM_CONNECT_TIMEOUT = env.float("PLATFORM_CONNECT_TIMEOUT", default=5.0)
PLATFORM_READ_TIMEOUT = env.float("PLATFORM_READ_TIMEOUT", default=10.0)
GRAPH_API_BASE = env.str("GRAPH_API_BASE", default="https://graph.facebook.com")
GRAPH_API_VERSION = env.str("GRAPH_API_VERSION", default="v24.0")
# Instagram accounts linked to a Facebook Page use graph.facebook.com; accounts
# connected with Instagram Login use https://graph.instagram.com.
INSTAGRAM_API_BASE = env.str("INSTAGRAM_API_BASE", default=GRAPH_API_BASE)
# How long a publish waits for a media container to be FINISHED (video takes
# time); past it the attempt is retried later with a new container.
INSTAGRAM_PROCESSING_WAIT = env.float("INSTAGRAM_PROCESSING_WAIT", default=20.0)
INSTAGRAM_POLL_INTERVAL = env.float("INSTAGRAM_POLL_INTERVAL", default=2.0)
# How long a Facebook video publish watches Facebook process the video; past
# it the post counts as published and Facebook finishes it on its side.
FACEBOOK_PROCESSING_WAIT = env.float("FACEBOOK_PROCESSING_WAIT", default=20.0)
FACEBOOK_POLL_INTERVAL = env.float("FACEBOOK_POLL_INTERVAL", default=2.0)
X_API_BASE = env.str("X_API_BASE", default="https://api.x.com")
X_PROCESSING_WAIT = env.float("X_PROCESSING_WAIT", default=20.0)
X_UPLOAD_CHUNK_BYTES = env.int("X_UPLOAD_CHUNK_BYTES", default=4 * 1024 * 1024)
# google-api-python-client is built from its bundled discovery document with
# this root (the document's own is https://youtube.googleapis.com/).
YOUTUBE_API_ROOT = env.str(
    "YOUTUBE_API_ROOT", default="https://youtube.googleapis.com/"
)
YOUTUBE_UPLOAD_CHUNK_BYTES = env.int(
    "YOUTUBE_UPLOAD_CHUNK_BYTES", default=8 * 1024 * 1024
)
# public, unlisted or private: what an uploaded video is
YOUTUBE_PRIVACY_STATUS = env.str("YOUTUBE_PRIVACY_STATUS", default="public")
# Every adapter's call_timeout must fit QUEUE_TASK_BUDGET (a drain starts no
# call it cannot finish): bigger videos need a bigger budget and this with it.
YOUTUBE_UPLOAD_TIMEOUT = env.float("YOUTUBE_UPLOAD_TIMEOUT", default=60.0)
# Called once when a platform says an access token expired: a dotted path to
# f(account) -> bool that refreshes account.auth_data (the OAuth service,
# platforms/oauth.py); empty, an expired token parks the account like a
# revoked one.
PLATFORM_TOKEN_REFRESHER = env.str(
    "PLATFORM_TOKEN_REFRESHER",
    default="platforms.services.platform_account_refresh_now",
)
# Instagram and Facebook fetch media by URL: scheduled posts' files are served
# at this public base through signed links that expire (platforms/media_links.py).
MEDIA_PUBLIC_BASE_URL = env.str("MEDIA_PUBLIC_BASE_URL", default="")
MEDIA_LINK_MAX_AGE = env.int("MEDIA_LINK_MAX_AGE", default=6 * 3600)
# Or through object storage (django-storages, the S3 API: AWS S3, Cloudflare R2,
# MinIO, ...), so the site itself need not be reachable from the internet: a
# post's file is copied into this private bucket when a platform needs its
# link, and the platform gets a presigned GET that expires after
# MEDIA_LINK_MAX_AGE. Keys come from the environment (or boto3's own chain:
# an instance role), never from the database. MEDIA_ROOT stays the library.
if _media_link_storage := media_link_storage(env, max_age=MEDIA_LINK_MAX_AGE):
    STORAGES["media_links"] = _media_link_storage
# Metrics sync (platforms/sync.py): accounts synced at most this often, posts
# of the last N days, and a lease on a claimed account.
METRICS_SYNC_INTERVAL_MINUTES = env.int("METRICS_SYNC_INTERVAL_MINUTES", default=60)
METRICS_SYNC_POST_DAYS = env.int("METRICS_SYNC_POST_DAYS", default=30)
METRICS_SYNC_LEASE_SECONDS = env.int("METRICS_SYNC_LEASE_SECONDS", default=600)
# How often the synced post numbers (post_metrics) are copied into the posts'
# cached columns that the engagement sorts read (platforms.sync.post_metrics_fold).
METRICS_FOLD_INTERVAL_MINUTES = env.int("METRICS_FOLD_INTERVAL_MINUTES", default=60)

# Best time to post (platforms.selectors.account_best_times): an account's
# published posts of the last BEST_TIME_WINDOW_DAYS days, grouped by hour and
# weekday on its character's clock. No suggestion from fewer than
# BEST_TIME_MIN_POSTS posts in all, and no hour or weekday backed by fewer
# than BEST_TIME_MIN_SLOT_POSTS of them.
BEST_TIME_MIN_POSTS = env.int("BEST_TIME_MIN_POSTS", default=20)
BEST_TIME_MIN_SLOT_POSTS = env.int("BEST_TIME_MIN_SLOT_POSTS", default=3)
BEST_TIME_WINDOW_DAYS = env.int("BEST_TIME_WINDOW_DAYS", default=180)
BEST_TIME_SUGGESTIONS = env.int("BEST_TIME_SUGGESTIONS", default=3)
# Publishing queue: lease on a claimed post, backoff between retries.
# A drain task (publishing, engagement) works for at most this long; an item
# starts only when its adapter's call timeout still fits (config/workqueue.py).
QUEUE_TASK_BUDGET = env.float("QUEUE_TASK_BUDGET", default=100.0)
# Longer than the longest drain task (budget + its time limits' margin).
PUBLISH_LEASE_SECONDS = env.int("PUBLISH_LEASE_SECONDS", default=300)
# Publishing calls one worker process keeps in flight (lanes: threads, each
# with its own database connection, journal entry, call and record). Commits
# and calls overlap; a worker killed mid-call leaves up to this many posts in
# doubt (reconciled; "outcome unknown" where the platform cannot tell).
PUBLISH_CALLS_IN_FLIGHT = env.int("PUBLISH_CALLS_IN_FLIGHT", default=4)
PUBLISH_RETRY_BASE_SECONDS = env.int("PUBLISH_RETRY_BASE_SECONDS", default=60)
PUBLISH_RETRY_MAX_SECONDS = env.int("PUBLISH_RETRY_MAX_SECONDS", default=3600)
ENGAGEMENT_MAX_RETRIES = env.int("ENGAGEMENT_MAX_RETRIES", default=3)
# Generation queue (content/generation.py): the backend draws the images.
# Development draws real PNG files locally; production sets SD_WEBUI_URL and
# GENERATION_BACKEND=content.backends.StableDiffusionWebUIBackend.
GENERATION_BACKEND = env.str(
    "GENERATION_BACKEND", default="content.backends.LocalImageBackend"
)
SD_WEBUI_URL = env.str("SD_WEBUI_URL", default="")
SD_WEBUI_TIMEOUT = env.float("SD_WEBUI_TIMEOUT", default=300.0)
# Video jobs: a backend that makes video (content.comfyui.ComfyUIBackend); unset,
# GENERATION_BACKEND is used when it can, otherwise a video job fails at once.
GENERATION_VIDEO_BACKEND = env.str("GENERATION_VIDEO_BACKEND", default="")
# ComfyUI (content/comfyui.py): its address, how long one job may take from
# submission to its last file, how often its history is polled, and the folder
# of workflow templates (<job type>.json, in ComfyUI's API format).
COMFYUI_URL = env.str("COMFYUI_URL", default="")
COMFYUI_TIMEOUT = env.float("COMFYUI_TIMEOUT", default=600.0)
COMFYUI_POLL_SECONDS = env.float("COMFYUI_POLL_SECONDS", default=1.0)
COMFYUI_WORKFLOWS = env.str(
    "COMFYUI_WORKFLOWS", default=str(BASE_DIR / "content" / "workflows")
)
# A face reference given as a URL is fetched (ComfyUI needs the file) only
# from public addresses unless this is on (development, loopback fakes).
FACE_REFERENCE_ALLOW_PRIVATE = env.bool("FACE_REFERENCE_ALLOW_PRIVATE", default=DEBUG)
FACE_REFERENCE_MAX_BYTES = env.int("FACE_REFERENCE_MAX_BYTES", default=10 * 1024 * 1024)
# A claimed job's lease outlives the slowest answer a backend may give.
GENERATION_LEASE_SECONDS = env.int(
    "GENERATION_LEASE_SECONDS",
    default=int(max(SD_WEBUI_TIMEOUT, COMFYUI_TIMEOUT)) + 300,
)
GENERATION_RETRY_BASE_SECONDS = env.int("GENERATION_RETRY_BASE_SECONDS", default=60)
GENERATION_RETRY_MAX_SECONDS = env.int("GENERATION_RETRY_MAX_SECONDS", default=3600)

# --- Connecting accounts: OAuth 2.0 (platforms/oauth.py) ---------------------------
# App credentials come from the environment only, never from the database. A
# platform whose client id is unset cannot be connected; the admin names the
# variable to set. Instagram and Facebook Pages share one Meta app.
META_APP_ID = env.str("META_APP_ID", default="")
META_APP_SECRET = env.str("META_APP_SECRET", default="")
X_CLIENT_ID = env.str("X_CLIENT_ID", default="")
X_CLIENT_SECRET = env.str("X_CLIENT_SECRET", default="")
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
# The one callback registered with every provider (exactly this URL).
OAUTH_REDIRECT_URI = env.str(
    "OAUTH_REDIRECT_URI",
    default="http://127.0.0.1:8000/admin/platforms/platformaccount/oauth/callback/"
    if DEBUG
    else "",
)
# The providers' OAuth endpoints (tests point them at a loopback fake); the
# identity calls use the adapters' API bases above (GRAPH_API_BASE, ...).
META_OAUTH_AUTHORIZE_URL = env.str(
    "META_OAUTH_AUTHORIZE_URL",
    default=f"https://www.facebook.com/{GRAPH_API_VERSION}/dialog/oauth",
)
X_OAUTH_AUTHORIZE_URL = env.str(
    "X_OAUTH_AUTHORIZE_URL", default="https://x.com/i/oauth2/authorize"
)
X_OAUTH_TOKEN_URL = env.str(
    "X_OAUTH_TOKEN_URL", default="https://api.x.com/2/oauth2/token"
)
GOOGLE_OAUTH_AUTHORIZE_URL = env.str(
    "GOOGLE_OAUTH_AUTHORIZE_URL",
    default="https://accounts.google.com/o/oauth2/v2/auth",
)
GOOGLE_OAUTH_TOKEN_URL = env.str(
    "GOOGLE_OAUTH_TOKEN_URL", default="https://oauth2.googleapis.com/token"
)
# (connect, read) seconds for token and identity calls.
OAUTH_TIMEOUT = (5.0, env.float("OAUTH_READ_TIMEOUT", default=10.0))
# A started connect flow must come back within this many seconds.
OAUTH_STATE_MAX_AGE = env.int("OAUTH_STATE_MAX_AGE", default=900)
# The periodic refresh (platforms.tasks.refresh_platform_tokens) renews a token
# this long before it expires: X and Google tokens live 1-2 hours, Meta's
# long-lived tokens about 60 days.
OAUTH_REFRESH_AHEAD_MINUTES = {
    "x": env.int("X_REFRESH_AHEAD_MINUTES", default=30),
    "google": env.int("GOOGLE_REFRESH_AHEAD_MINUTES", default=20),
    "meta": env.int("META_REFRESH_AHEAD_MINUTES", default=7 * 24 * 60),
}

# Text in the persona's voice (content/textgen.py): TEXT_BACKEND is
# content.text_backends.LocalTextBackend (development: no model) or
# content.text_backends.ChatCompletionsBackend, an OpenAI-compatible server
# (OpenAI, Ollama, vLLM, llama.cpp, LM Studio) at TEXT_API_BASE_URL.
TEXT_BACKEND = env.str("TEXT_BACKEND", default="content.text_backends.LocalTextBackend")
TEXT_API_BASE_URL = env.str("TEXT_API_BASE_URL", default="")
TEXT_API_KEY = env.str("TEXT_API_KEY", default="")
TEXT_MODEL = env.str("TEXT_MODEL", default="")
TEXT_TIMEOUT = env.float("TEXT_TIMEOUT", default=30.0)
TEXT_MAX_TOKENS = env.int("TEXT_MAX_TOKENS", default=400)
TEXT_LEASE_SECONDS = env.int("TEXT_LEASE_SECONDS", default=300)
TEXT_RETRY_BASE_SECONDS = env.int("TEXT_RETRY_BASE_SECONDS", default=30)
TEXT_RETRY_MAX_SECONDS = env.int("TEXT_RETRY_MAX_SECONDS", default=900)
# Moderation of generated text (content/moderation.py): off, a local word list
# (development) or an OpenAI-compatible /moderations endpoint.
MODERATION_BACKEND = env.str(
    "MODERATION_BACKEND",
    default="content.moderation.WordListModerator" if DEBUG else "",
)
MODERATION_WORDS = env.list(
    "MODERATION_WORDS",
    default=["kill yourself", "kys", "nude", "nudes", "explicit", "onlyfans leak"],
)
MODERATION_API_BASE_URL = env.str("MODERATION_API_BASE_URL", default="")
MODERATION_API_KEY = env.str("MODERATION_API_KEY", default="")
MODERATION_MODEL = env.str("MODERATION_MODEL", default="omni-moderation-latest")
