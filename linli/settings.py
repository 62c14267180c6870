"""Linli settings: everything comes from environment variables (see .env.example).

LINLI_MODE chooses between the embedded default (SQLite, jobs inside the serve process, no other
service) and production (PostgreSQL, Redis, Celery workers). Production refuses to start with
the well-known development secrets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from linli.utilities.env import (
    ImproperlyConfiguredError,
    env_bool,
    env_hex_bytes,
    env_int,
    env_key_ring,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent
LINLI_MODE = env_str("LINLI_MODE", "embedded")
if LINLI_MODE not in {"embedded", "production"}:
    raise ImproperlyConfiguredError("LINLI_MODE must be 'embedded' or 'production'")
PRODUCTION = LINLI_MODE == "production"
TESTING = "pytest" in sys.modules or env_bool("LINLI_TESTING")

DATA_DIR = Path(env_str("LINLI_DATA_DIR", str(Path.cwd() / "var"))).resolve()

# Development defaults. They are public (they are in this file), so production refuses them.
DEV_SECRET_KEY = "linli-development-secret-key-not-for-production-use-0000000000"
DEV_SM4_KEYS = "dev1:00112233445566778899aabbccddeeff"
DEV_BLIND_INDEX_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
DEV_AUDIT_SIGNING_KEY = "e45acf53f6e43b96be05d75758848acf62e766f596d5fe830b2e9e35bf0239fc"
DEV_AUDIT_VERIFY_KEY = (
    "e2bc764b4a2661d8ad157fcf2e0bf0021a2aac1dc222f52ee3fb9fcdb9f0fc9c"
    "db77a5a9151c098918395c52512cc6e3ff416518a03f0a58839dc8f2c5e0dd0c"
)

SECRET_KEY = env_str("LINLI_SECRET_KEY", DEV_SECRET_KEY)
# Off unless a developer asks: the embedded mode is what a county sees first, and DEBUG pages
# would show settings and stack traces to anyone.
DEBUG = env_bool("LINLI_DEBUG", default=False)
ALLOWED_HOSTS = env_list(
    "LINLI_ALLOWED_HOSTS",
    [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env_list("LINLI_CSRF_TRUSTED_ORIGINS")
LINLI_TRUST_PROXY = env_bool("LINLI_TRUST_PROXY", PRODUCTION)
# Only these peers may tell us the client's address in X-Forwarded-For (the nginx in front).
LINLI_TRUSTED_PROXIES = env_list("LINLI_TRUSTED_PROXIES", ["127.0.0.1", "::1"])

LINLI_SM4_KEYS = env_key_ring("LINLI_SM4_KEYS", DEV_SM4_KEYS)
LINLI_SM4_ACTIVE_KEY = env_str("LINLI_SM4_ACTIVE_KEY", next(iter(LINLI_SM4_KEYS)))
if LINLI_SM4_ACTIVE_KEY not in LINLI_SM4_KEYS:
    raise ImproperlyConfiguredError("LINLI_SM4_ACTIVE_KEY names a key that LINLI_SM4_KEYS lacks")
LINLI_BLIND_INDEX_KEY = env_hex_bytes("LINLI_BLIND_INDEX_KEY", DEV_BLIND_INDEX_KEY, 32)
LINLI_AUDIT_SIGNING_KEY = env_hex_bytes("LINLI_AUDIT_SIGNING_KEY", DEV_AUDIT_SIGNING_KEY, 32)
LINLI_AUDIT_VERIFY_KEY = env_hex_bytes("LINLI_AUDIT_VERIFY_KEY", DEV_AUDIT_VERIFY_KEY, 64)
LINLI_AUDIT_CHECKPOINT_MINUTES = env_int("LINLI_AUDIT_CHECKPOINT_MINUTES", 60, minimum=1)
# Every signed checkpoint is also appended here, outside the database (empty: off; tests turn
# it on per test so they don't share one file).
LINLI_AUDIT_ANCHOR_FILE = env_str(
    "LINLI_AUDIT_ANCHOR_FILE", "" if TESTING else str(DATA_DIR / "audit-anchors.jsonl")
)

if PRODUCTION:
    weak = []
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 40:
        weak.append("LINLI_SECRET_KEY")
    if any(key.hex() in DEV_SM4_KEYS for key in LINLI_SM4_KEYS.values()):
        weak.append("LINLI_SM4_KEYS")
    if LINLI_BLIND_INDEX_KEY.hex() == DEV_BLIND_INDEX_KEY:
        weak.append("LINLI_BLIND_INDEX_KEY")
    if LINLI_AUDIT_SIGNING_KEY.hex() == DEV_AUDIT_SIGNING_KEY:
        weak.append("LINLI_AUDIT_SIGNING_KEY")
    if LINLI_AUDIT_VERIFY_KEY.hex() == DEV_AUDIT_VERIFY_KEY.replace(" ", ""):
        weak.append("LINLI_AUDIT_VERIFY_KEY")
    if weak:
        raise ImproperlyConfiguredError(
            "Production mode refuses the development defaults of: " + ", ".join(weak)
        )
    if DEBUG:
        raise ImproperlyConfiguredError("Production mode refuses LINLI_DEBUG=true")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfiguredError("Production mode needs LINLI_ALLOWED_HOSTS")

INSTALLED_APPS = [
    # First, so its createsuperuser / changepassword commands replace Django's (refusing them).
    "linli.accounts",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "linli.core",
    "linli.regions",
    "linli.audit",
    "linli.registry",
    "linli.assessment",
    "linli.notifications",
    "linli.events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "linli.accounts.middleware.SessionPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "linli.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "linli.urls"
WSGI_APPLICATION = "linli.wsgi.application"

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
                "linli.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'linli.sqlite3'}"),
        conn_max_age=env_int("LINLI_DB_CONN_MAX_AGE", 60 if PRODUCTION else 0, minimum=0),
    )
}
if PRODUCTION and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfiguredError("Production mode needs a PostgreSQL DATABASE_URL")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so two writers queue instead of
    # failing with "database is locked" when a read inside a transaction turns into a write.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["linli.accounts.backends.RoleBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:workbench"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if TESTING
    else [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "linli.accounts.passwords.PolicyLengthValidator"},
    {"NAME": "linli.accounts.passwords.CharacterClassValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "linli.accounts.passwords.HistoryValidator"},
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("LINLI_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = 12 * 3600
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("LINLI_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# The platform's own CSS and the vendored libraries live beside settings, not inside an app.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("LINLI_STATIC_ROOT", str(DATA_DIR / "static")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("LINLI_MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# Bodies beyond this are refused with 413/400 before any view parses them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("LINLI_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024)
# Excel imports: files above this are refused before they are read; rows stored per transaction.
LINLI_IMPORT_MAX_BYTES = env_int("LINLI_IMPORT_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
LINLI_IMPORT_BATCH_SIZE = env_int("LINLI_IMPORT_BATCH_SIZE", 1000, minimum=1)
LINLI_IMPORT_ERROR_FILE_DAYS = env_int("LINLI_IMPORT_ERROR_FILE_DAYS", 7, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "linli.core.authentication.SessionAuthentication",
        "linli.core.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "linli.core.authentication.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "linli.core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Linli 邻里 API",
    "DESCRIPTION": "智慧社区综合信息平台 REST API",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "EventStatusEnum": "linli.events.choices.EventStatus",
        "EventSourceEnum": "linli.events.choices.EventSource",
        "DepartmentKindEnum": "linli.events.choices.DepartmentKind",
        "CategoryKindEnum": "linli.events.choices.CategoryKind",
    },
}

# Jobs: Celery with Redis in production; in the embedded mode tasks run in-process and the
# serve command schedules periodic jobs itself.
REDIS_URL = env_str("LINLI_REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("LINLI_CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("LINLI_TASKS_EAGER", not PRODUCTION)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE

if PRODUCTION:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LINLI_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

LINLI_SITE_NAME = _("Linli smart community platform")
# Seconds a county's or subdistrict's overview counts stay cached (0: always counted live).
# Changes through the services invalidate them at once; bulk imports when they finish.
LINLI_OVERVIEW_CACHE_SECONDS = env_int("LINLI_OVERVIEW_CACHE_SECONDS", 300, minimum=0)

# The event hub (一切皆事件): returns allowed before the level above rules, hours an overdue step
# waits before it is escalated, the radius in which reports are offered as duplicates, and the
# largest attachment.
LINLI_EVENT_RETURN_LIMIT = env_int("LINLI_EVENT_RETURN_LIMIT", 2, minimum=1)
LINLI_EVENT_ESCALATION_GRACE_HOURS = env_int("LINLI_EVENT_ESCALATION_GRACE_HOURS", 4, minimum=0)
LINLI_EVENT_DUPLICATE_RADIUS_M = env_int("LINLI_EVENT_DUPLICATE_RADIUS_M", 100, minimum=1)
LINLI_EVENT_UPLOAD_MAX_MB = env_int("LINLI_EVENT_UPLOAD_MAX_MB", 10, minimum=1)
# The 12345 platform's callback for status updates of its tickets (empty: nothing is sent; the
# platform reads its tickets back), the key of their HMAC-SHA256 signature, and the attempts.
LINLI_HOTLINE_CALLBACK_URL = env_str("LINLI_HOTLINE_CALLBACK_URL", "")
LINLI_HOTLINE_CALLBACK_SECRET = env_str("LINLI_HOTLINE_CALLBACK_SECRET", "")
LINLI_HOTLINE_CALLBACK_ATTEMPTS = env_int("LINLI_HOTLINE_CALLBACK_ATTEMPTS", 8, minimum=1)
# Outside notification channels (dotted paths of provider classes); the default ones only log.
LINLI_NOTIFY_PROVIDERS = env_list(
    "LINLI_NOTIFY_PROVIDERS",
    [
        "linli.notifications.channels.LoggingSmsProvider",
        "linli.notifications.channels.LoggingWeChatProvider",
    ],
)
# Map tiles for the event pages' maps: a URL template such as the county's own tile server
# (https://tiles.example.gov.cn/{z}/{x}/{y}.png) and its attribution. Nothing is fetched from the
# internet by default; without tiles the maps show the marker on a plain grid.
LINLI_MAP_TILE_URL = env_str("LINLI_MAP_TILE_URL", "")
LINLI_MAP_TILE_ATTRIBUTION = env_str("LINLI_MAP_TILE_ATTRIBUTION", "")
