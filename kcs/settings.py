"""Django settings for KCS Response, read from the environment only.

Every variable is listed in README.md and .env.example. Without any configuration the product runs on the
embedded defaults: a SQLite database and a filesystem Celery broker, both under ``var/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from kcs import broker
from kcs.bounds import MAX_ID
from kcs.env import comma_list, ensure_dir, env_bool, env_choice, env_int, env_list, env_str, persistent_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = ensure_dir(Path(env_str("KCS_VAR_DIR", str(BASE_DIR / "var"))).resolve())

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = persistent_secret("SECRET_KEY", VAR_DIR / "secret_key")
# One Fernet key, or several comma-separated: the first encrypts, all decrypt (rotation: README, Configuration).
KCS_ENCRYPTION_KEY = persistent_secret(
    "KCS_ENCRYPTION_KEY", VAR_DIR / "encryption_key", factory=lambda: Fernet.generate_key().decode()
)
# A key generated into var/ lives beside the embedded database; with PostgreSQL that is a warning (kcs/checks.py).
KCS_ENCRYPTION_KEY_GENERATED = not env_str("KCS_ENCRYPTION_KEY")
_encryption_keys = comma_list(KCS_ENCRYPTION_KEY)
for _position, _key in enumerate(_encryption_keys, start=1):
    try:
        Fernet(_key.encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"KCS_ENCRYPTION_KEY: key {_position} of {len(_encryption_keys)} is not a url-safe base64 Fernet key of "
            "32 bytes. Give one key, or several comma-separated with the encrypting one first (make one with: "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
        ) from None
if not _encryption_keys:
    raise ImproperlyConfigured("KCS_ENCRYPTION_KEY holds no key.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public address of the UI, used for links inside notifications (e.g. https://kcs.example.com).
KCS_BASE_URL = env_str("KCS_BASE_URL", f"http://localhost:{env_int('PORT', 8000, minimum=1)}").rstrip("/")
# Password of the `admin` account that `make run` ensures; generated once and kept in var/ when unset.
KCS_ADMIN_PASSWORD = env_str("KCS_ADMIN_PASSWORD", "")
# Where `make run` listens, and how many web processes and worker processes it starts.
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000, minimum=1)
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 2, minimum=1)
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1)  # per web process: overlaps database waits
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 2, minimum=1)
KCS_ALLOW_PRIVATE_DESTINATIONS = env_bool("KCS_ALLOW_PRIVATE_DESTINATIONS", False)
# Extra CA certificates for outputs' TLS (a file of PEM certificates); empty: the system's and certifi's.
REQUESTS_CA_BUNDLE = env_str("REQUESTS_CA_BUNDLE", "")
# Largest accepted request body: a 5,000-finding Trivy report with descriptions is about 15 MB.
KCS_MAX_BODY_BYTES = env_int("KCS_MAX_BODY_BYTES", 32 * 1024 * 1024, minimum=1024)
KCS_MAX_EVENTS_PER_REQUEST = env_int("KCS_MAX_EVENTS_PER_REQUEST", 5000, minimum=1)
# Optional: the exact Authorization header value Harbor's webhook policy sends (e.g. "Token kcs_…"); when set,
# /api/v1/ingest/harbor/ accepts only that credential (compared in constant time).
KCS_HARBOR_AUTH_HEADER = env_str("KCS_HARBOR_AUTH_HEADER", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, not a CDN
    "django_htmx",
    # Before kcs: its sign-in receivers run after axes' own, which decide whether an attempt locked the user out.
    "axes",
    "kcs",
    "events",
    "policies",
    "notifications",
]

MIDDLEWARE = [
    # Outermost: counts refused ingest requests in the security event log, those refused by a middleware too.
    "kcs.refusals.IngestRefusalMiddleware",
    "kcs.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "kcs.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kcs.signin.CurrentRequestMiddleware",
    "kcs.middleware.ForcedPasswordChangeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kcs.middleware.NulInQueryMiddleware",
    # Last: turns a sign-in refused during a lockout into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kcs.urls"
WSGI_APPLICATION = "kcs.wsgi.application"

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
                "kcs.context_processors.scope_switcher",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kcs.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0))
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL this product understands: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at the same time: WAL lets readers run beside one writer, IMMEDIATE
    # transactions take the write lock up front (no deadlock-prone lock upgrades) and the timeout waits for it.
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["CONN_HEALTH_CHECKS"] = True
else:
    raise ImproperlyConfigured("DATABASE_URL must be a sqlite:/// or postgres:// URL")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds the API throttles' counters. In each process's memory by default: with several web processes
# (gunicorn workers, hosts) set CACHE_URL=redis://host:6379/2 so that they share one count per token.
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL in ("", "locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured("CACHE_URL must be empty (memory of each process) or a redis:// URL")

# The product's rule (6–72 characters: digits, special characters, upper and lower case) replaces Django's length
# and all-digits checks; screens, the API, the admin and changepassword all apply this list.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "kcs.passwords.PasswordRulesValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in protection (django-axes): after KCS_LOGIN_FAILURE_LIMIT failed sign-ins for one user name, or from one
# address, within KCS_LOGIN_FAILURE_WINDOW minutes, further sign-ins for that name or from that address are refused
# for KCS_LOGIN_LOCKOUT_MINUTES minutes, even with the right password (kcs/signin.py).
KCS_LOGIN_FAILURE_LIMIT = env_int("KCS_LOGIN_FAILURE_LIMIT", 5, minimum=1)
KCS_LOGIN_FAILURE_WINDOW = env_int("KCS_LOGIN_FAILURE_WINDOW", 15, minimum=1)
KCS_LOGIN_LOCKOUT_MINUTES = env_int("KCS_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AUTHENTICATION_BACKENDS = ["kcs.signin.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "kcs.signin.LockoutHandler"
# Read from the KCS_ settings at each attempt (kcs/signin.py).
AXES_FAILURE_LIMIT = "kcs.signin.failure_limit"
AXES_COOLOFF_TIME = "kcs.signin.lockout_time"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # a user name OR an address
# A lockout lasts its time from the failure that caused it; refused attempts do not prolong it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # one row per failure: the window is counted on them
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the security event log; axes' copy would grow for ever
AXES_LOCKOUT_CALLABLE = "kcs.signin.lockout_response"
AXES_VERBOSE = False
# Not in the admin: sign-ins are read in the security event log; a lockout is lifted with manage.py axes_reset_*.
AXES_ENABLE_ADMIN = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
ensure_dir(STATIC_ROOT)
# Serve straight from the app folders too, so the screens are styled even before `collectstatic` ran.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security -----------------------------------------------------------------------------------------------------
# Served by a proxy that terminates TLS and sets X-Forwarded-Proto: plain-HTTP requests are redirected to HTTPS
# (except the probes, which call the process directly), browsers are told to use HTTPS only, cookies travel only
# over HTTPS.
KCS_BEHIND_TLS_PROXY = env_bool("KCS_BEHIND_TLS_PROXY", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False) or KCS_BEHIND_TLS_PROXY
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if KCS_BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = KCS_BEHIND_TLS_PROXY
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # matched against the path without its leading slash
# Sent on HTTPS responses only. Subdomains and preload are left out: they bind every host of the domain.
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if KCS_BEHIND_TLS_PROXY else 0
# Every screen works under this policy: no inline script, style or event handler anywhere (behaviour lives in
# static/js, styles in static/css; htmx's indicator styles are in app.css, not injected). Same shape as Django 6.0's
# SECURE_CSP, which replaces kcs.middleware.ContentSecurityPolicyMiddleware on an upgrade.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
DATA_UPLOAD_MAX_MEMORY_SIZE = KCS_MAX_BODY_BYTES

# --- REST API -----------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kcs.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kcs.permissions.ModelPermissions"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["kcs.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "kcs.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Requests per API token (ingest included): KCS_API_TOKEN_RATE, counted in the cache (see CACHE_URL).
    "DEFAULT_THROTTLE_CLASSES": ["kcs.throttling.TokenRateThrottle"],
}
# "<number>/<second|minute|hour|day>" per API token, e.g. 6000/minute; "off" for no limit. Over it: 429 + Retry-After.
KCS_API_TOKEN_RATE = env_str("KCS_API_TOKEN_RATE", "6000/minute").strip().lower()
if KCS_API_TOKEN_RATE != "off":
    _count, _, _period = KCS_API_TOKEN_RATE.partition("/")
    if not (
        _count.isdigit()
        and int(_count) > 0
        and _period in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}
    ):
        raise ImproperlyConfigured(
            f"KCS_API_TOKEN_RATE={KCS_API_TOKEN_RATE!r}: expected <number>/<second|minute|hour|day> (e.g. "
            "6000/minute) or off"
        )
SPECTACULAR_SETTINGS = {
    "TITLE": "KCS Response API",
    "DESCRIPTION": "Security events in, response policies, notification outputs and the delivery log.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # <id:pk> in paths (kcs.converters): a row id, not any string.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    # One enum of severity slugs (event filters, event input and output, a policy's threshold); the threat types a
    # risk acceptance takes.
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "events.models.Severity.slugs",
        "TypeEnum": "events.models.EventType",
        "AcceptableTypeEnum": "events.models.ACCEPTABLE_TYPE_VALUES",
    },
}

# --- Celery -------------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The transport ignores the host, but kombu warns on every connection when there is none.
    CELERY_BROKER_URL = "filesystem://localhost//"
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        ensure_dir(_broker_dir / _sub)
    # One folder for both directions: the web process writes messages where the worker reads them.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # default is ./control in the working directory
        "store_processed": False,
        "polling_interval": 0.2,  # seconds; the default 1 s would add up to a second to every notification
    }
else:
    # Redis (visibility timeout) or RabbitMQ (publisher confirms); anything else stops the start (kcs/broker.py).
    CELERY_BROKER_TRANSPORT_OPTIONS = broker.transport_options(
        CELERY_BROKER_URL, visibility_timeout=env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=30)
    )
# The longest countdown a task is published with (kcs.queueing): limited on RabbitMQ, see kcs/broker.py.
KCS_BROKER_MAX_COUNTDOWN = broker.max_countdown(CELERY_BROKER_URL)
# Worker processes commit without waiting for the disk flush on PostgreSQL (see kcs/celery.py for why it is safe).
KCS_WORKER_ASYNC_COMMIT = env_bool("KCS_WORKER_ASYNC_COMMIT", True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A channel closed by the broker (RabbitMQ: a consumer timeout, a failed declaration) makes the worker reconnect,
# like a lost connection, instead of ending it.
CELERY_BROKER_CHANNEL_ERROR_RETRY = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queue "events" carries the evaluation of incoming events (the policies stage), "notifications" the deliveries, so
# each kind of work can get its own worker pool (README: running at scale).
CELERY_TASK_ROUTES = {
    # The hourly purge may run for minutes: on the default queue it never holds back evaluation.
    "policies.purge": {"queue": "default"},
    "policies.*": {"queue": "events"},
    "notifications.*": {"queue": "notifications"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
KCS_SWEEP_INTERVAL = env_int("KCS_SWEEP_INTERVAL", 30, minimum=1)  # seconds between evaluation sweeper runs
# Seconds between delivery sweeper runs: a killed worker's message is sent again within the lease plus this.
KCS_DELIVERY_SWEEP_INTERVAL = env_int("KCS_DELIVERY_SWEEP_INTERVAL", 10, minimum=1)
# Seconds a claim on a notification lasts unless its worker renews it (every third of it while the send is in
# flight, notifications/lease.py); past it, a row in "sending" belongs to a dead worker and is taken over.
KCS_DELIVERY_LEASE = env_int("KCS_DELIVERY_LEASE", 15, minimum=3)
# Seconds between runs of the task that expires risk acceptances whose period ended (events/acceptances.py).
KCS_ACCEPTANCE_EXPIRY_INTERVAL = env_int("KCS_ACCEPTANCE_EXPIRY_INTERVAL", 60, minimum=1)
CELERY_BEAT_SCHEDULE = {
    # Each stage re-enqueues its own stragglers: batches never evaluated, notifications left pending or whose
    # worker died.
    "sweep-evaluation": {"task": "policies.sweep", "schedule": float(KCS_SWEEP_INTERVAL)},
    "sweep-delivery": {"task": "notifications.sweep", "schedule": float(KCS_DELIVERY_SWEEP_INTERVAL)},
    # Retention: delete what is older than KCS_RETENTION_DAYS / KCS_AUDIT_RETENTION_DAYS (policies/retention.py).
    "purge-expired": {"task": "policies.purge", "schedule": 3600.0},
    # Risk acceptances whose period ended become risk_acceptance_expired events.
    "expire-risk-acceptances": {
        "task": "events.expire_acceptances",
        "schedule": float(KCS_ACCEPTANCE_EXPIRY_INTERVAL),
    },
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes every database connection before and after each task unless this is set, which
# costs a new PostgreSQL connection per task; kcs/celery.py applies CONN_MAX_AGE and health checks per task instead.
CELERY_DB_REUSE_MAX = 1000

# --- Retention ----------------------------------------------------------------------------------------------------
# Events, their batches, notifications and repeat-suppression records older than this are purged every hour
# (never what a pending notification still needs, nor a repeat mark still quiet); the security event log is kept
# longer. See policies/retention.py and `manage.py purge`.
KCS_RETENTION_DAYS = env_int("KCS_RETENTION_DAYS", 90, minimum=1)
KCS_AUDIT_RETENTION_DAYS = env_int("KCS_AUDIT_RETENTION_DAYS", 365, minimum=1)

# --- Metrics ------------------------------------------------------------------------------------------------------
# /metrics (Prometheus text format) answers only when this is set, and only to "Authorization: Bearer <token>".
KCS_METRICS_TOKEN = env_str("KCS_METRICS_TOKEN", "")
# With metrics on, every process (gunicorn workers, Celery worker processes) writes its counters to files in this
# folder and /metrics adds them up (prometheus-client's multiprocess mode). `manage.py serve` empties it at start.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics") if KCS_METRICS_TOKEN else "")
if PROMETHEUS_MULTIPROC_DIR:
    ensure_dir(Path(PROMETHEUS_MULTIPROC_DIR))
    # prometheus-client reads the folder from the environment (before its first metric is made), and the web server
    # and worker processes that `serve` starts inherit it.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR

# --- Email --------------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 15, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "kcs-response@localhost")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on")
# django-anymail: ANYMAIL_<ESP>_API_KEY etc., e.g. EMAIL_BACKEND=anymail.backends.postmark.EmailBackend
ANYMAIL = {key.removeprefix("ANYMAIL_"): value for key, value in os.environ.items() if key.startswith("ANYMAIL_")}

LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every handler redacts known secret shapes (bot tokens, credentials in URLs, Authorization values).
    "filters": {"redact_secrets": {"()": "kcs.log_redaction.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # urllib3 logs every request's URL at debug level, and a Telegram Bot API URL holds the bot token.
        "urllib3": {"level": "WARNING"},
    },
}
