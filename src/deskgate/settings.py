"""Django settings, all derived from `deskgate.conf.load()`; nothing else reads the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from deskgate import conf
from deskgate.provider import keys as provider_keys

try:
    CONFIG = conf.load()
except conf.ConfigError as exc:
    raise ImproperlyConfigured(f"Deskgate cannot start: {exc}") from None

BASE_DIR = conf.BASE_DIR
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = list(CONFIG.hosts)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "deskgate.accounts",
    "deskgate.http",
    "deskgate.signin",
    "deskgate.delivery",
    "deskgate.sso",
    "deskgate.provider",  # before oauth2_provider: its templates replace the library's
    "deskgate.apitokens",
    "oauth2_provider",
    "deskgate.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "deskgate.http.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Accept-Language for signed-out pages; PreferencesMiddleware overrides it once signed in.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, reading the session's record with its user (deskgate.accounts.sessions).
    "deskgate.http.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The user's language and time zone (theirs, else the client's default).
    "deskgate.http.middleware.PreferencesMiddleware",
    # After the messages middleware: a timeout says why the user was signed out.
    "deskgate.http.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "deskgate.urls"
WSGI_APPLICATION = "deskgate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "deskgate.http.context.deskgate",
            ],
        },
    },
]

# Django's form renderer, with labels and plain inputs written out in Python (same HTML).
FORM_RENDERER = "deskgate.http.renderer.FormRenderer"

_db = CONFIG.database
DATABASES: dict[str, dict[str, object]]
if _db.engine == "sqlite":
    conf.VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _db.name,
            # IMMEDIATE: a write transaction takes the lock when it starts, so a
            # check-then-write inside it cannot interleave with another writer.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # One file per test process, so parallel runs never share a test database.
            "TEST": {"NAME": str(conf.VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "deskgate.postgres",  # Django's, checking kept connections after idle only
            "NAME": _db.name,
            "USER": _db.user,
            "PASSWORD": _db.password,
            "HOST": _db.host,
            "PORT": _db.port,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # Parameters bound by the server, and a statement run five times on a connection
            # prepared there (psycopg 3): PostgreSQL parses and plans the sign-in's fixed
            # statements once per connection instead of once per request (issue 17: its CPU
            # per sign-in 9.7 -> 5.7 ms), and psycopg stops quoting every value in Python.
            # Needs a session-level pool if one is put in front (pgbouncer's transaction mode
            # cannot keep prepared statements).
            "OPTIONS": {"server_side_binding": True, "prepare_threshold": 5},
            "TEST": {"NAME": f"test_{_db.name}_{os.getpid()}"},
        }
    }

if CONFIG.cache_url:
    CACHES = {
        "default": {
            # Redis errors answer "not cached" (and log once) instead of failing the
            # request: nothing Deskgate needs lives only in the cache.
            "BACKEND": "deskgate.cache.ForgivingRedisCache",
            "LOCATION": CONFIG.cache_url,
            "KEY_PREFIX": "deskgate",
        }
    }
else:
    # No Redis: the database is the cache every process shares.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "deskgate_cache",
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["deskgate.signin.backends.DeskgateBackend"]
LOGIN_URL = "signin:password"
LOGOUT_REDIRECT_URL = "signin:password"
LOGIN_REDIRECT_URL = "home"

PASSWORD_HASHERS = [
    "deskgate.accounts.hashers.ConfiguredArgon2PasswordHasher",  # users' passwords
    "deskgate.provider.hashers.ClientSecretHasher",  # apps' random client secrets only
]
DESKGATE_PASSWORD_HASH = {
    "memory_cost": CONFIG.password_hash_memory_kib,
    "time_cost": CONFIG.password_hash_time_cost,
    "parallelism": CONFIG.password_hash_parallelism,
}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "deskgate.accounts.passwords.LengthForFactorsValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "deskgate.accounts.passwords.ContextWordsValidator"},
]

# Sessions live in the database; with Redis, a copy in front of it saves the read of each
# request (`cached_db`). A Redis restart or outage then signs nobody out: a session the
# cache lacks is read from the database. Every session save is one database write either way.
# Django's engines, each session write one statement (deskgate/accounts/session_store).
SESSION_ENGINE = (
    "deskgate.accounts.session_store.cached_db"
    if CONFIG.cache_url
    else "deskgate.accounts.session_store.db"
)
SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())  # absolute lifetime
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CONFIG.secure_cookies
SESSION_COOKIE_NAME = "deskgate_session"
CSRF_COOKIE_SECURE = CONFIG.secure_cookies
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = [CONFIG.base_url]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
PASSWORD_RESET_TIMEOUT = int(timedelta(hours=1).total_seconds())

DESKGATE_IDLE_TIMEOUT = {
    # Admin pages: 30 idle minutes, as the vendor has it ("cannot be changed").
    "admin_pages": int(timedelta(minutes=30).total_seconds()),
    "other": int(timedelta(hours=8).total_seconds()),
}
DESKGATE_CODE: dict[str, Any] = {
    "digits": 6,
    "lifetime": 600,  # seconds: a code is valid for 10 minutes
    "max_attempts": 5,  # wrong tries per code
    "resend_cooldown": 30,  # seconds between two codes of one sign-in
    "lock_after": 10,  # consecutive wrong codes, across resends, lock the user
    "lock_steps": [60, 300, 900, 3600],  # seconds; each further lock lasts longer
}
DESKGATE_PASSWORD_LOCK: dict[str, Any] = {
    "after": 10,  # consecutive wrong passwords lock the password step...
    "steps": [60, 300, 900, 3600],  # ...for this long (seconds), longer each time
}
DESKGATE_SEND_CAPS = {
    "user": CONFIG.code_cap_user,
    "client": CONFIG.code_cap_client,
    "platform": CONFIG.code_cap_platform,
}
# Self-service password reset: the request only queues; a worker thread sends after the
# response (deskgate.signin.reset_delivery). The limits bound mail, not the account's owner.
DESKGATE_RESET: dict[str, Any] = {
    # Links mailed to one account per clock hour while its last link still works; when
    # that link was used, expired or never arrived, the next request sends a new one.
    "per_account_hour": 3,
    # Requests queued per requesting IP address per clock hour (a contact center's agents
    # may share one address: generous, but an attacker's queue stays bounded).
    "per_ip_hour": 50,
    "mail_attempts": 3,  # tries to hand one mail to the mail server...
    "retry_after": [60, 300],  # ...waiting this long (seconds) before the 2nd and 3rd
}
# Password attempts hashed per client address and per network (/24, /56) in a window of
# seconds, counted in the database before the hash (signin/budget.py).
DESKGATE_SIGNIN_BUDGET = {
    "ip": CONFIG.signin_budget_ip,
    "network": CONFIG.signin_budget_network,
    "window": CONFIG.signin_budget_window,
}
DESKGATE_REMEMBER_DEVICE_DAYS = 30
# Requests per minute per API token, counted in the database (apitokens/tokens.py).
DESKGATE_API_RATE_LIMIT = CONFIG.api_rate_limit
# Talking to clients' identity providers (deskgate.sso.fetch and provider).
DESKGATE_SSO: dict[str, Any] = {
    # http:// to a provider on loopback: development and tests only.
    "allow_http_loopback": CONFIG.sso_allow_http_loopback,
    # Hosts besides the issuer's own that may serve any provider's endpoints.
    "endpoint_hosts": CONFIG.sso_endpoint_hosts,
    "fetch_seconds": 5.0,  # the whole of one request to a provider, DNS included
    "failure_seconds": 45,  # a failed lookup is not repeated for this long
    "lease_wait_seconds": 0.5,  # how long others wait for the one process asking
    # (address, port) of the DNS servers asked for domain verification; () the system's.
    "dns_servers": CONFIG.dns_servers,
}
# The MaxMind-format database (GeoLite2-City or -Country .mmdb) that names the place of a
# session's address (accounts/places.py); "" names none ("Unknown").
DESKGATE_GEOIP_DB = CONFIG.geoip_db
DESKGATE_DEMO = CONFIG.demo
DESKGATE_BASE_URL = CONFIG.base_url
# The outbox page shows codes: only in a demo or debug run, never in production settings.
DESKGATE_OUTBOX_PAGE = CONFIG.uses_outbox and (CONFIG.demo or CONFIG.debug)

if CONFIG.email is None:
    EMAIL_BACKEND = "deskgate.delivery.outbox.OutboxEmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = CONFIG.email.host
    EMAIL_PORT = CONFIG.email.port
    EMAIL_HOST_USER = CONFIG.email.user
    EMAIL_HOST_PASSWORD = CONFIG.email.password
    EMAIL_USE_TLS = CONFIG.email.use_tls
    EMAIL_USE_SSL = CONFIG.email.use_ssl
EMAIL_TIMEOUT = 5
DEFAULT_FROM_EMAIL = "Deskgate <no-reply@deskgate.invalid>"
DESKGATE_SMS = CONFIG.sms
DESKGATE_SMS_TIMEOUT = 5

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fi", "Finnish"), ("sv", "Swedish")]
# How the language menus name each language: in itself, as its readers look for it.
LANGUAGE_NAMES_IN_THEMSELVES = [("en", "English"), ("fi", "Suomi"), ("sv", "Svenska")]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = conf.VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise looks for it before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Serve straight from the apps' static folders too, so tests and a fresh checkout
# need no collectstatic step.
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_query_strings": {"()": "deskgate.logfilters.DropQueryStrings"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_query_strings"],
        }
    },
    "loggers": {
        # Request lines carry what people typed into searches (phone numbers, addresses).
        "django.server": {
            "handlers": ["console"],
            "filters": ["no_query_strings"],
            "level": "INFO",
            "propagate": False,
        },
        "django.request": {"filters": ["no_query_strings"]},
        # At DEBUG, oauthlib and django-oauth-toolkit log authorization codes, refresh
        # tokens and the redirect URLs that carry codes: never below INFO, whatever the
        # root level (tests/security/test_18_provider.py runs everything at DEBUG).
        "oauthlib": {"level": "INFO"},
        "oauth2_provider": {"level": "INFO"},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}

# The OpenID Provider (django-oauth-toolkit; deskgate/provider, docs/oidc.md). The issuer is
# DESKGATE_BASE_URL; the discovery document is at its /.well-known/openid-configuration.
try:
    OIDC_KEYS = provider_keys.load()
except conf.ConfigError as exc:
    raise ImproperlyConfigured(f"Deskgate cannot start: {exc}") from None
OAUTH2_PROVIDER: dict[str, Any] = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": CONFIG.base_url,
    "OIDC_RSA_PRIVATE_KEY": OIDC_KEYS.current,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": list(OIDC_KEYS.retired),
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",  # public apps: PKCE only
    ],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,  # asked only without a matching hint
    # Post-logout URIs are matched against the registered ones either way; "strict" would
    # also refuse http for public apps, which register-app allows on loopback only (RFC 8252).
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": False,
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
    # Off: DOT would delete every token of the user in every app and every browser and
    # tell no app. Deskgate's Logout view ends this session's sign-ins instead (revoked,
    # and the other apps told by back-channel logout).
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
    "OAUTH2_VALIDATOR_CLASS": "deskgate.provider.validator.DeskgateValidator",
    "CLIENT_SECRET_HASHER": "deskgate_client_secret",  # provider/hashers.py says why
    "SCOPES": {
        "openid": "Sign you in",
        "profile": "Your name and user name",
        "email": "Your Email address",
        "deskgate": "Your company and your role in it",
        "offline_access": "Stay signed in to the app",
    },
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 600,
    "ID_TOKEN_EXPIRE_SECONDS": 600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": SESSION_COOKIE_AGE,  # no longer than a Deskgate session
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a reused refresh token revokes its family
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "REQUEST_APPROVAL_PROMPT": "auto",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],  # http: loopback only (provider/apps.py)
    # RFC 9700 (OAuth 2.0 Security BCP): the compliant behaviour, all of it.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

# DOT's own models (named here so migrations that point at them resolve).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
