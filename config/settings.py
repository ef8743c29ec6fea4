"""Settings for Agent Identity Assessor, read from the environment.

Everything that differs between a laptop and production comes from environment
variables through the helpers in ``config.env``; the defaults give a working
SQLite set-up for ``make run``. README.md lists the production variables.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# The templates and static files: at the top of a checkout; inside this package when
# installed from a wheel (setup.py ships them there).
_HERE = Path(__file__).resolve().parent
SHIPPED_DIR = _HERE if (_HERE / "templates").is_dir() else BASE_DIR

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "string (for example: python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 (DEBUG only)

# The audit log's MAC key: not in the database and not SECRET_KEY, so whoever can write
# the database still cannot rewrite the log unnoticed. AUDIT_KEYS lists earlier keys,
# kept so that events and checkpoints they signed still verify after a rotation.
AUDIT_KEY = env_str("AUDIT_KEY")
if not AUDIT_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "AUDIT_KEY is not set. Set the AUDIT_KEY environment variable to a long random "
            "string, different from SECRET_KEY and kept outside the database (for example: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=1 "
            "for local development."
        )
    AUDIT_KEY = "insecure-audit-key-for-local-development-only"  # noqa: S105 (DEBUG only)
elif AUDIT_KEY == SECRET_KEY:
    raise ImproperlyConfigured("AUDIT_KEY must be a different secret from SECRET_KEY.")
elif len(AUDIT_KEY) < 32 and not DEBUG:
    raise ImproperlyConfigured("AUDIT_KEY must be at least 32 characters long.")
AUDIT_KEYS = env_list("AUDIT_KEYS")
# Signed checkpoints of the audit log go to the log always, and to these when set.
AUDIT_CHECKPOINT_DIR = env_str("AUDIT_CHECKPOINT_DIR")
AUDIT_CHECKPOINT_EMAIL = env_list("AUDIT_CHECKPOINT_EMAIL")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "assessments.apps.AssessorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's passkey list uses it
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "assessments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "assessments.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "assessments.middleware.PrivateResponsesMiddleware",
    "assessments.access.accounts.AccountChangeMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "assessments.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "assessments.middleware.VaryOnHtmxMiddleware",
    "assessments.middleware.AuditForbiddenMiddleware",
    "assessments.access.sso.AccessGateMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SHIPPED_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "assessments.context_processors.roles",
            ],
        },
    },
]

# Database: SQLite in the project by default (WAL journal, IMMEDIATE transactions so
# concurrent writers queue instead of failing), PostgreSQL through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}
        if env_str("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Authentication and sessions.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "assessments:dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Sign-in flows: local passwords (with multi-factor authentication) and OpenID Connect
# single sign-on, both through django-allauth; assessments/access/sso.py holds the adapters.
ACCOUNT_ADAPTER = "assessments.access.sso.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "assessments.access.sso.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS = True
ACCOUNT_RATE_LIMITS = False  # sign-in throttling is the audit-log limiter (throttle.py)
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_ONLY = False
MFA_ADAPTER = "assessments.access.sso.MFAAdapter"  # TOTP secrets encrypted in the database
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env_bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", DEBUG)
MFA_TOTP_ISSUER = "Agent Identity Assessor"
# Roles that must enrol a second factor before they may do anything else.
MFA_REQUIRED_ROLES = env_list("MFA_REQUIRED_ROLES", [])

# Teams scope who acts on which agents (assessments/access/scope.py). TEAM_SCOPED_EDITING: assessors
# create and edit only their teams' agents, reviewers decide only for their teams.
# TEAM_SCOPED_READING: everyone below administrator also reads only their teams' agents.
TEAM_SCOPED_EDITING = env_bool("TEAM_SCOPED_EDITING", False)
TEAM_SCOPED_READING = env_bool("TEAM_SCOPED_READING", False)
# load_demo makes a board pack each quarter of its past (a few seconds of PDF each).
DEMO_BOARD_PACKS = env_bool("DEMO_BOARD_PACKS", True)

# OpenID Connect single sign-on, off unless OIDC_ISSUER is set. OIDC_ROLE_MAP maps the
# directory groups in OIDC_GROUPS_CLAIM to roles ("aia-admins:administrator,..."); a
# person with no mapped group gets no role. SSO_ONLY turns local passwords off for all
# but the break-glass usernames in SSO_BREAK_GLASS_USERS.
OIDC_ISSUER = env_str("OIDC_ISSUER")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_MAP = dict(pair.split(":", 1) for pair in env_list("OIDC_ROLE_MAP", []) if ":" in pair)
OIDC_TEAM_PREFIX = env_str("OIDC_TEAM_PREFIX", "team:")
# Origins besides the issuer's that the browser is sent to when single sign-on starts
# (the CSP's form-action must allow them).
OIDC_FORM_ACTION_ORIGINS = env_list("OIDC_FORM_ACTION_ORIGINS", [])
SSO_ONLY = env_bool("SSO_ONLY", False)
SSO_BREAK_GLASS_USERS = [name.lower() for name in env_list("SSO_BREAK_GLASS_USERS", [])]
SOCIALACCOUNT_PROVIDERS: dict = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": (
            [
                {
                    "provider_id": "sso",
                    "name": OIDC_PROVIDER_NAME,
                    "client_id": env_str("OIDC_CLIENT_ID"),
                    "secret": env_str("OIDC_CLIENT_SECRET"),
                    "settings": {
                        "server_url": OIDC_ISSUER,
                        "oauth_pkce_enabled": True,
                        "scope": env_list("OIDC_SCOPES", ["openid", "profile", "email"]),
                    },
                }
            ]
            if OIDC_ISSUER
            else []
        ),
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env_int("SESSION_ABSOLUTE_TIMEOUT", 12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie: htmx sends the token from the page (hx-headers on
# <body>) and forms carry it in a hidden field.
CSRF_COOKIE_HTTPONLY = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in throttling: failures per (username, address) before a lockout, and its length.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)

# Client addresses behind a proxy: the header the proxies append to (as a request.META
# key; "X-Forwarded-For" is accepted too) and how many proxies in front of the app append
# to it. The client is the left-most address those proxies wrote; what the client sent
# itself is ignored (assessments/access/clientip.py).
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER").strip().upper().replace("-", "_")
if CLIENT_IP_HEADER and not CLIENT_IP_HEADER.startswith("HTTP_"):
    CLIENT_IP_HEADER = f"HTTP_{CLIENT_IP_HEADER}"
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if CLIENT_IP_HEADER else 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

# Request bodies: forms up to 2 MB; uploads (only the report check takes one) are
# refused from Content-Length before they are read (assessments.middleware); files up
# to 5 MB are held in memory, larger ones spooled to a temporary file.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Assessment PDFs one person may have rendered per minute (unchanged drafts are served
# again from the cache and do not count).
REPORT_RENDER_LIMIT = env_int("REPORT_RENDER_LIMIT", 10)

# Security headers. Production defaults are strict; a TLS-terminating proxy sets
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Joining the browsers' preload list is the domain owner's decision, not this app's:
# the check that asks for it stays quiet until SECURE_HSTS_PRELOAD is set.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
if proxy_header := env_str("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (proxy_header, "https")

# Content Security Policy: Django's own middleware, a nonce per request, nothing inline.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Production serves what collectstatic gathered; development reads the sources directly.
STATIC_ROOT = env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")) if not DEBUG else None
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STATICFILES_DIRS = [SHIPPED_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Background work goes through Django's tasks API; the database backend's worker runs
# beside the server (`manage.py db_worker`). Larger deployments switch to
# django-tasks-rq on Redis (see README).
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
if "django_tasks_rq" in TASKS["default"]["BACKEND"]:
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {"default": {"URL": env_str("REDIS_URL", "redis://127.0.0.1:6379/0")}}

# E-mail through Django 6.1 mailers: SMTP (EMAIL_HOST, default localhost) in production,
# the console in development unless EMAIL_HOST is set.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Agent Identity Assessor <assessor@localhost>")
if env_str("EMAIL_HOST") or not DEBUG:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env_str("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 587),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# Review interval per governance tier, in days (decision-model defaults). Administrators
# can override them in the admin; these are the fallbacks.
REVIEW_INTERVAL_DAYS = {
    4: env_int("REVIEW_INTERVAL_CRITICAL", 30),
    3: env_int("REVIEW_INTERVAL_HIGH", 90),
    2: env_int("REVIEW_INTERVAL_ELEVATED", 180),
    1: env_int("REVIEW_INTERVAL_BASELINE", 365),
}

# An agent not seen acting for this many days gets a "Decommission?" review
# (actions.flag_inactive_agents, run daily with the review reminders).
INACTIVE_AGENT_DAYS = env_int("INACTIVE_AGENT_DAYS", 90)

# Evidence analysis: host names (and their subdomains) that count as inside the
# organisation when an MCP server is reached by URL, e.g. "corp.example.com,example.net".
EVIDENCE_INTERNAL_DOMAINS = env_list("EVIDENCE_INTERNAL_DOMAINS")
# Evidence uploads larger than this (in all), and every AWS file (its IAM action list
# takes a second or more to load), are analysed in the background, never in a request.
EVIDENCE_SYNC_MAX_BYTES = env_int("EVIDENCE_SYNC_MAX_BYTES", 256 * 1024)
# Discovery: an identity unused for this many days (or with no owner) may be decommissioned.
DISCOVERY_UNUSED_DAYS = env_int("DISCOVERY_UNUSED_DAYS", 90)
# Addresses webhooks are never sent to, whatever a URL's host resolves to (checked on the
# connected socket, so DNS cannot swap them in): this host itself, and link-local ones,
# where cloud metadata services answer. Private networks stay allowed (an internal SIEM).
WEBHOOK_BLOCKED_NETWORKS = env_list(
    "WEBHOOK_BLOCKED_NETWORKS",
    ["127.0.0.0/8", "::1/128", "0.0.0.0/8", "169.254.0.0/16", "fe80::/10", "fd00:ec2::/32"],
)

# The proxy webhook deliveries go through, if any ("http://proxy.internal:3128"). The
# environment's http_proxy/https_proxy are ignored for webhooks: a proxy resolves names
# itself, so the destination is checked here first and only this proxy is trusted.
WEBHOOK_PROXY = env_str("WEBHOOK_PROXY", "")
# The API's documentation (/api/v1/docs) and schema (/api/v1/openapi.json) are for
# people signed in or holding a token, unless this opens them to anyone.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)

# Lazy loads on list pages raise in tests and development instead of silently
# issuing a query per row (Django 6.1 fetch modes); production batches them.
STRICT_FETCH = env_bool("STRICT_FETCH", DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
