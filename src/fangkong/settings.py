"""Django settings for fangkong. Everything comes from FANGKONG_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from fangkong import config

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = config.data_dir()

SECRET_KEY = config.secret_key(DATA_DIR)
DEBUG = config.env_flag("FANGKONG_DEBUG", default=False)
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("FANGKONG_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if host.strip()
]
PORT = int(os.environ.get("FANGKONG_PORT") or 8000)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "django_tasks",
    "django_tasks_db",
    "django_htmx",
    "axes",
    "ninja",
    "fangkong.core",
    "fangkong.geo",
    "fangkong.accounts",
    "fangkong.people",
    "fangkong.supplies",
    "fangkong.screening",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "fangkong.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]
# Token-authenticated API calls (a path under /api/v1/ with "Authorization: Bearer fk_..."
# or "X-API-Token: fk_...") run through this shorter list instead (fangkong.wsgi routes
# them): security headers, request id for audit entries and logs, the language from
# Accept-Language, host checks and Content-Length. Sessions, CSRF, authentication from
# the session, messages, htmx, axes and X-Frame-Options serve browsers only; the token
# is the caller's identity. Browser calls to the API keep the full MIDDLEWARE.
API_TOKEN_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "fangkong.core.middleware.RequestIdMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "fangkong.urls"
WSGI_APPLICATION = "fangkong.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fangkong.core.context.shell",
            ],
        },
    },
]

_test_db_url = os.environ.get("FANGKONG_TEST_DATABASE_URL", "")
_use_test_pg = config.env_flag("FANGKONG_TEST_ON_POSTGRES") and _test_db_url
DATABASES = {
    "default": config.parse_database_url(
        _test_db_url if _use_test_pg else os.environ.get("FANGKONG_DATABASE_URL", ""),
        DATA_DIR / "fangkong.sqlite3",
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sessions end after 12 hours (one duty shift) or when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("FANGKONG_SESSION_SECONDS") or 12 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# django-axes: five failures lock the username+address pair for 30 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("FANGKONG_LOGIN_FAILURE_LIMIT") or 5)
AXES_COOLOFF_TIME = 0.5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = os.environ.get("FANGKONG_LANGUAGE") or "zh-hans"
LANGUAGES = [
    ("zh-hans", _("Simplified Chinese")),
    ("en", _("English")),
    ("zh-hant", _("Traditional Chinese")),
]
# Each app keeps its own catalogue in <app>/locale (see scripts/messages.py).
USE_I18N = True
TIME_ZONE = os.environ.get("FANGKONG_TIME_ZONE") or "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "uploads"
JOB_RESULTS_DIR = DATA_DIR / "jobs"

# Uploads above this size are refused with a clear message (imports set their own limit too).
MAX_UPLOAD_BYTES = int(os.environ.get("FANGKONG_MAX_UPLOAD_MB") or 20) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
UPLOAD_RETENTION_DAYS = int(os.environ.get("FANGKONG_UPLOAD_RETENTION_DAYS") or 7)
# Large imports check rows in a forked second process while this one writes (D20);
# FANGKONG_IMPORT_CHECK_IN_CHILD=0 keeps everything in one process.
IMPORT_CHECK_IN_CHILD = os.environ.get("FANGKONG_IMPORT_CHECK_IN_CHILD", "1") != "0"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("FANGKONG_TASK_BACKEND") or "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# A running job that has not reported for this long is taken as lost with its worker.
JOB_STALE_SECONDS = int(os.environ.get("FANGKONG_JOB_STALE_SECONDS") or 120)

# Stock postings may be back-dated this far (hours), and only if no balance goes
# negative afterwards (supplies.ledger).
STOCK_BACKDATE_HOURS = int(os.environ.get("FANGKONG_STOCK_BACKDATE_HOURS") or 72)

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"
NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "fangkong": {"level": os.environ.get("FANGKONG_LOG_LEVEL") or "INFO"},
        "django.request": {"level": "ERROR"},
    },
}
