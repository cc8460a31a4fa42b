"""Settings for the imaging data-access governance portal.

One module, driven by the environment. With nothing set the portal runs on an embedded
SQLite database with Celery tasks executed eagerly, so a newcomer needs no server.
Production differs only through environment variables (see README.md).
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import demo_secret_key, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

# PORTAL_PROFILE=demo (set by `make demo`): the demo runs like production as far as visitors can
# tell (DEBUG off, so the portal's own 404, 403 and 500 pages), yet on plain http on this machine:
# no HTTPS redirect, HSTS or secure-only cookies, a secret key generated once into VAR_DIR, and
# static files served by WhiteNoise straight from the apps without collectstatic.
PORTAL_PROFILE = env_str("PORTAL_PROFILE", "").strip().lower()
if PORTAL_PROFILE not in ("", "demo"):
    raise ImproperlyConfigured(f"PORTAL_PROFILE={PORTAL_PROFILE!r} is not a profile (use demo, or leave it unset)")
DEMO = PORTAL_PROFILE == "demo"

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
DEBUG = env_bool("DEBUG", not DEMO)
_DEV_SECRET = "dev-only-insecure-key-never-use-in-production-0123456789abcdefghij"  # noqa: S105  # nosec B105  # refused when DEBUG is false
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY and DEMO:
    SECRET_KEY = demo_secret_key(VAR_DIR / "secret_key")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")

_LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
if DEMO:  # the host the Makefile serves on (SITE_URL follows HOST and PORT), as well as this machine's names
    _LOCAL_HOSTS = list(dict.fromkeys([*_LOCAL_HOSTS, urlsplit(SITE_URL).hostname or "localhost"]))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", _LOCAL_HOSTS if DEBUG or DEMO else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "portal.errorpages.csrf_failure"  # the portal's own 403 page, not Django's
SITE_NAME = env_str("SITE_NAME", "Imaging Data Access Portal")
# The node operator's address (the Research Data Office): the catalogue's own contact point in its DCAT-AP export.
SITE_CONTACT_EMAIL = env_str("SITE_CONTACT_EMAIL", "data-access@portal.example.org")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "guardian",
    "axes",
    "portal",
    "catalogue",
    "access_requests",
    "federation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response; Cache-Control: private, no-store for signed-in users.
    "portal.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.access.AccessGateMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in during a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.portal",
            ],
            "builtins": ["portal.templatetags.portal_tags"],  # |country and the audit filters, everywhere
        },
    },
]

# Database: DATABASE_URL (postgres://user@host:port/name); embedded SQLite by default.
if not env_str("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Django's backends, each with the audit chain's write-at-commit (portal/db/backends/audit_buffer.py):
# a transaction's audit events are written just before it commits, so the chain head is locked last.
DATABASE_ENGINES = {
    "django.db.backends.postgresql": "portal.db.backends.postgresql",
    "django.db.backends.sqlite3": "portal.db.backends.sqlite3",
}
DATABASES["default"]["ENGINE"] = DATABASE_ENGINES.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    # django-axes' lockout check first, then passwords; an unproved e-mail address signs in to nothing.
    "portal.backends.PortalBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian "AnonymousUser" row: the public never holds object permissions.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Decisive legal acts (voting, signing, issuing access) ask for the password again after this.
SUDO_MODE_SECONDS = env_int("SUDO_MODE_SECONDS", 15 * 60)

# Identity: a self-registered account proves its e-mail address through a signed link before it
# can sign in; team invitations are accepted by the invited, verified address.
EMAIL_PROOF_MAX_AGE_SECONDS = env_int("EMAIL_PROOF_MAX_AGE_SECONDS", 2 * 24 * 3600)
TEAM_INVITATION_MAX_AGE_DAYS = env_int("TEAM_INVITATION_MAX_AGE_DAYS", 14)
# How long the link that asks the institution's signatory to accept the legal statements works.
SIGNATURE_LINK_MAX_AGE_DAYS = env_int("SIGNATURE_LINK_MAX_AGE_DAYS", 14)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)
# Rate limits (count per hour, kept in the cache): per client address for sign-ups, resent
# e-mail-proof links and password resets, per target address for the e-mails these send, and per
# inviting user for team invitations. Over a limit, pages show a form error and the API answers 429.
SIGNUP_RATE_PER_HOUR = env_int("SIGNUP_RATE_PER_HOUR", 10)
PASSWORD_RESET_RATE_PER_HOUR = env_int("PASSWORD_RESET_RATE_PER_HOUR", 10)
EMAIL_RATE_PER_ADDRESS_PER_HOUR = env_int("EMAIL_RATE_PER_ADDRESS_PER_HOUR", 3)
INVITATION_RATE_PER_HOUR = env_int("INVITATION_RATE_PER_HOUR", 30)

# Password guessing (django-axes): after LOGIN_FAILURE_LIMIT failed sign-ins for one account, or
# from one client address, further attempts are refused for LOGIN_COOLOFF_MINUTES, even with the
# right password. Failures are kept in axes' own table, not in the audit chain.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "portal.backends.axes_username"
# A success does not wipe the failures: an attacker signing in to their own account must not reset
# the count against someone else's; failures expire after the cool-off instead.
AXES_RESET_ON_SUCCESS = False
# A refused attempt during a lockout neither extends it nor adds a row.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "portal.views.lockout"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False  # no start-up banner on every command
AXES_CLIENT_IP_CALLABLE = "portal.ratelimit.client_ip"
# Behind reverse proxies, how many of them append to X-Forwarded-For (0: the client is REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "Europe/Brussels")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Without collectstatic (development and the demo), WhiteNoise serves straight from the apps'
# static folders; production serves the collected, hashed and compressed files.
WHITENOISE_USE_FINDERS = DEBUG or DEMO
if DEMO:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # empty: WhiteNoise warns about a missing folder
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or DEMO
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Protected storage, never under a public URL, in two separate roots: dataset files, one area
# per data holder (DATASET_STORAGE_ROOT/<storage area>/...), and applicants' uploaded documents.
# Neither may lie inside the other, so registering dataset files can never reach a document.
if env_str("PROTECTED_STORAGE_ROOT"):
    raise ImproperlyConfigured(
        "PROTECTED_STORAGE_ROOT is no longer read: set DATASET_STORAGE_ROOT and DOCUMENT_STORAGE_ROOT instead"
    )
DATASET_STORAGE_ROOT = Path(env_str("DATASET_STORAGE_ROOT", str(VAR_DIR / "datasets")))
DOCUMENT_STORAGE_ROOT = Path(env_str("DOCUMENT_STORAGE_ROOT", str(VAR_DIR / "documents")))
_datasets_real, _documents_real = DATASET_STORAGE_ROOT.resolve(), DOCUMENT_STORAGE_ROOT.resolve()
if _datasets_real.is_relative_to(_documents_real) or _documents_real.is_relative_to(_datasets_real):
    raise ImproperlyConfigured(
        f"DATASET_STORAGE_ROOT ({_datasets_real}) and DOCUMENT_STORAGE_ROOT ({_documents_real}) "
        "must be separate folders, neither inside the other"
    )
# "django" streams with FileResponse (sendfile under gunicorn); "nginx" answers with
# X-Accel-Redirect to an internal nginx location: PROTECTED_ACCEL_PREFIX + "documents/<path>"
# for DOCUMENT_STORAGE_ROOT and PROTECTED_ACCEL_PREFIX + "datasets/<path>" for DATASET_STORAGE_ROOT.
PROTECTED_SERVE_MODE = env_str("PROTECTED_SERVE_MODE", "django")
PROTECTED_ACCEL_PREFIX = env_str("PROTECTED_ACCEL_PREFIX", "/protected/")
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024)

# Redis: broker, result backend and cache. Without it tasks run eagerly in-process.
REDIS_URL = env_str("REDIS_URL", "")
HAS_CELERY = bool(REDIS_URL)
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not HAS_CELERY
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
# Files a scan hands to a worker at a time (catalogue.ingestion): every worker process reads headers at once.
FILE_SCAN_BATCH = env_int("FILE_SCAN_BATCH", 500)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_RESULT_EXPIRES = 3600
# Publishing must not hang a request when the broker is down: the outbox re-sends later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "outbox-flush": {"task": "portal.tasks.outbox_flush", "schedule": 60.0},
}

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# After a change to the catalogue, a worker puts the DCAT export's pages together again (catalogue/
# dcat_pages.py), DCAT_EXPORT_WARM_DELAY seconds later, so that harvesters find them ready.
DCAT_EXPORT_WARM = env_bool("DCAT_EXPORT_WARM", HAS_CELERY)
DCAT_EXPORT_WARM_DELAY = env_int("DCAT_EXPORT_WARM_DELAY", 5)

# E-mail: SMTP when EMAIL_HOST is set, else EMAIL_BACKEND (console by default).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Imaging Data Access Portal <noreply@portal.example.org>")
# An outbox message still unsent this long after it was queued is re-sent by the sweep.
OUTBOX_RESEND_AFTER_SECONDS = env_int("OUTBOX_RESEND_AFTER_SECONDS", 30)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 10)
# How often celery beat sends the outbox sweep, in seconds.
OUTBOX_FLUSH_SECONDS = env_int("OUTBOX_FLUSH_SECONDS", 60)
CELERY_BEAT_SCHEDULE["outbox-flush"]["schedule"] = float(OUTBOX_FLUSH_SECONDS)

API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)
# Longest access period an application may request, in months.
ACCESS_MAX_MONTHS = env_int("ACCESS_MAX_MONTHS", 24)

# Audit chain anchors: a periodic task appends the chain head (time, sequence, hash, HMAC) to
# AUDIT_ANCHOR_FILE (empty: no file) and e-mails it to AUDIT_ANCHOR_EMAIL (comma-separated);
# `manage.py verify_audit` checks the database against them. The HMAC key is AUDIT_ANCHOR_KEY,
# or SECRET_KEY when unset (set it, so that rotating SECRET_KEY keeps old anchors verifiable).
AUDIT_ANCHOR_FILE = env_str("AUDIT_ANCHOR_FILE", str(VAR_DIR / "audit-anchors.log"))
AUDIT_ANCHOR_EMAIL = env_list("AUDIT_ANCHOR_EMAIL", [])
AUDIT_ANCHOR_KEY = env_str("AUDIT_ANCHOR_KEY", "")
AUDIT_ANCHOR_INTERVAL_SECONDS = env_int("AUDIT_ANCHOR_INTERVAL_SECONDS", 3600)
if AUDIT_ANCHOR_INTERVAL_SECONDS <= 0:
    raise ImproperlyConfigured("AUDIT_ANCHOR_INTERVAL_SECONDS must be a positive number of seconds")
CELERY_BEAT_SCHEDULE["audit-anchor"] = {
    "task": "portal.tasks.audit_anchor",
    "schedule": float(AUDIT_ANCHOR_INTERVAL_SECONDS),
}

# How often celery beat sends the review reminders (votes due, decisions due), in seconds.
REVIEW_REMINDERS_INTERVAL_SECONDS = env_int("REVIEW_REMINDERS_INTERVAL_SECONDS", 3600)
if REVIEW_REMINDERS_INTERVAL_SECONDS <= 0:
    raise ImproperlyConfigured("REVIEW_REMINDERS_INTERVAL_SECONDS must be a positive number of seconds")
CELERY_BEAT_SCHEDULE["review-reminders"] = {
    "task": "access_requests.tasks.review_reminders",
    "schedule": float(REVIEW_REMINDERS_INTERVAL_SECONDS),
}
# The same interval queues again the decision letters a broker outage or failed retries left missing.
CELERY_BEAT_SCHEDULE["decision-letters-sweep"] = {
    "task": "access_requests.tasks.decision_letters_sweep",
    "schedule": float(REVIEW_REMINDERS_INTERVAL_SECONDS),
}
# Data-access agreements (access_requests/services/agreements.py). An executed agreement is sealed
# (PAdES) with the portal's own certificate: AGREEMENT_SEAL_KEY (PEM private key, encrypted with
# AGREEMENT_SEAL_PASSPHRASE when set) and AGREEMENT_SEAL_CERT (PEM certificate, with the key usage
# nonRepudiation). AGREEMENT_SEAL_TRUST_ROOTS (PEM, one or more certificates) is the authority that
# issued it: `verify_agreement` trusts nothing else. Development: `manage.py agreement_dev_certificate`
# writes a small CA and a seal certificate to these default paths under VAR_DIR.
AGREEMENT_SEAL_DIR = VAR_DIR / "agreement-seal"
AGREEMENT_SEAL_KEY = env_str("AGREEMENT_SEAL_KEY", str(AGREEMENT_SEAL_DIR / "seal-key.pem"))
AGREEMENT_SEAL_CERT = env_str("AGREEMENT_SEAL_CERT", str(AGREEMENT_SEAL_DIR / "seal-cert.pem"))
AGREEMENT_SEAL_PASSPHRASE = env_str("AGREEMENT_SEAL_PASSPHRASE", "")
AGREEMENT_SEAL_TRUST_ROOTS = env_str("AGREEMENT_SEAL_TRUST_ROOTS", str(AGREEMENT_SEAL_DIR / "ca-cert.pem"))
# Earlier seal certificates (comma-separated PEM paths) whose seals `verify_agreement` still accepts
# after a rotation; the current AGREEMENT_SEAL_CERT is always accepted.
AGREEMENT_SEAL_PREVIOUS_CERTS = env_list("AGREEMENT_SEAL_PREVIOUS_CERTS", [])
# An agreement not executed this many days after its first version is flagged to the RDO.
AGREEMENT_EXECUTION_DAYS = env_int("AGREEMENT_EXECUTION_DAYS", 30)
# Creates, renders or executes what a lost task dispatch left undone (services/agreements.py).
CELERY_BEAT_SCHEDULE["agreements-sweep"] = {"task": "access_requests.agreements_sweep", "schedule": 600.0}
# Flags overdue agreements to the RDO and reminds the awaited parties, once each.
CELERY_BEAT_SCHEDULE["agreements-overdue"] = {"task": "access_requests.agreements_overdue_notify", "schedule": 3600.0}

# Access grants (access_requests/services/grants.py). Download links are signed, bound to the user,
# the grant and the file, and live this long; every request re-checks the grant all the same.
DOWNLOAD_LINK_SECONDS = env_int("DOWNLOAD_LINK_SECONDS", 3600)
# Expires grants past their last day, closes applications with nothing left, sends reminders.
GRANTS_SWEEP_SECONDS = env_int("GRANTS_SWEEP_SECONDS", 900)
CELERY_BEAT_SCHEDULE["grants-sweep"] = {"task": "access_requests.grants_sweep", "schedule": float(GRANTS_SWEEP_SECONDS)}
# Delivers entitlement events whose earlier attempt failed, once their backoff has passed.
CELERY_BEAT_SCHEDULE["entitlements-deliver"] = {"task": "access_requests.entitlements_deliver", "schedule": 60.0}
# Each push to a holder's processing environment gives up after this many seconds (connect and read):
# the event is retried with backoff, and the grant's later events wait behind it.
ENTITLEMENT_PUSH_TIMEOUT_SECONDS = env_int("ENTITLEMENT_PUSH_TIMEOUT_SECONDS", 5)
# GA4GH Passport visas for processing grants (access_requests/services/visas.py), signed with
# VISA_SIGNING_KEY: a PEM private key (EC P-256 signs ES256, RSA signs RS256), unencrypted or
# encrypted with VISA_SIGNING_KEY_PASSPHRASE. Its public key, and the earlier ones listed in
# VISA_PREVIOUS_PUBLIC_KEYS (comma-separated PEM paths, kept after a rotation until the visas they
# signed have expired), are published at /.well-known/jwks.json. Development: `manage.py
# visa_dev_key` writes a key to the default path (`make demo` runs it); production sets its own.
VISA_KEY_DIR = VAR_DIR / "visa"
VISA_SIGNING_KEY = env_str("VISA_SIGNING_KEY", str(VISA_KEY_DIR / "visa-key.pem"))
VISA_SIGNING_KEY_PASSPHRASE = env_str("VISA_SIGNING_KEY_PASSPHRASE", "")
VISA_PREVIOUS_PUBLIC_KEYS = env_list("VISA_PREVIOUS_PUBLIC_KEYS", [])
# A visa lives at most this long, and never past the end of its grant's last day.
VISA_LIFETIME_SECONDS = env_int("VISA_LIFETIME_SECONDS", 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.access.DeclaredAccess"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_SCHEMA_CLASS": "portal.schema.PortalAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.PortalPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "portal.apis.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Imaging Data Access Portal API",
    "DESCRIPTION": (
        "Catalogue, access applications, agreements and grants.\n\n"
        "Programs authenticate with a personal token (Settings → API tokens in the portal): "
        "`Authorization: Bearer dap_…`. Decisive acts (submitting, returning, forwarding or withdrawing an "
        "application, accepting legal representations, deciding a committee review or extending its decision "
        "time, publishing or withdrawing a dataset) also need the "
        "account's password in `X-Confirm-Password`; without it they answer 403 `sudo_required`. Every error "
        "is an `Error` body: `detail`, `code` and, for bad input, `errors` per field."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The API reference page (/api/docs/) serves Swagger UI from the portal's own static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # choice sets used by several fields, named once
    "ENUM_NAME_OVERRIDES": {
        "DecisionOutcomeEnum": "access_requests.serializers_review.DECISION_OUTCOMES",
        "RoundOutcomeEnum": "access_requests.models.ReviewRound.Outcome",
        "CheckKindEnum": "access_requests.models.CheckKind",
        "AgreementStatusEnum": "access_requests.models.AgreementStatus",
        "StatusEnum": "access_requests.models.ApplicationStatus",
        "SignatureMethodEnum": "access_requests.models.SignatureMethod",
        "GrantKindEnum": "access_requests.models.GrantKind",
        "GrantLimitEnum": "access_requests.models.GrantLimit",
        "GrantStateEnum": "access_requests.serializers_grants.GRANT_STATES",
        "OutputKindEnum": "access_requests.models.OutputKind",
    },
}

# Security: production (DEBUG=false) passes `manage.py check --deploy` with no warning.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent on every response by portal.middleware (same shape as Django 6's SECURE_CSP). No inline
# script, handler or style anywhere: tests/portal/test_headers.py scans the templates.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],  # Swagger UI's stylesheet draws its icons as data: images
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
if not DEBUG and not DEMO:  # the demo is served on plain http://127.0.0.1:PORT
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "celery.app.trace": {"level": "WARNING"}},
}

# Federation with partner nodes (federation/): this node's Ed25519 key that signs its requests
# (a PEM path or the PEM itself; `manage.py federation_dev_key` writes a development one to the
# default path, `make demo` runs it), how old a partner's signature may be, the smallest count a
# federated count query discloses and the step counts are rounded to, how long a partner has to
# answer, and how long the same query is answered from the cache.
FEDERATION_KEY_DIR = VAR_DIR / "federation"
FEDERATION_SIGNING_KEY = env_str("FEDERATION_SIGNING_KEY", str(FEDERATION_KEY_DIR / "node-key.pem"))
FEDERATION_SIGNATURE_MAX_AGE = env_int("FEDERATION_SIGNATURE_MAX_AGE", 60)
FEDERATION_COUNT_THRESHOLD = env_int("FEDERATION_COUNT_THRESHOLD", 10)
FEDERATION_COUNT_ROUNDING = env_int("FEDERATION_COUNT_ROUNDING", 5)
FEDERATION_TIMEOUT = float(env_str("FEDERATION_TIMEOUT", "5"))
FEDERATION_CACHE_SECONDS = env_int("FEDERATION_CACHE_SECONDS", 60)
# Every partner's catalogue is harvested this often (seconds), each page within the timeout.
FEDERATION_HARVEST_SECONDS = env_int("FEDERATION_HARVEST_SECONDS", 3600)
FEDERATION_HARVEST_TIMEOUT = env_int("FEDERATION_HARVEST_TIMEOUT", 30)
CELERY_BEAT_SCHEDULE["federation-harvest"] = {
    "task": "federation.tasks.harvest_all",
    "schedule": float(FEDERATION_HARVEST_SECONDS),
}
