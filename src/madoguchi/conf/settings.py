"""Django settings for Madoguchi.

Every value comes from the environment (django-environ); docs/configuration.md and the README's table list
each variable. With nothing set, the embedded default runs: SQLite files and generated development keys under
var/, tasks in-process, mail to the console. MADOGUCHI_PRODUCTION=true turns every default that is only safe
on a developer's machine into a hard requirement.
"""

import base64
import secrets
from pathlib import Path

import environ

from madoguchi.core.zones import Zone

SRC_DIR = Path(__file__).resolve().parents[2]
PROJECT_DIR = SRC_DIR.parent
PACKAGE_DIR = SRC_DIR / "madoguchi"

env = environ.Env()

PRODUCTION = env.bool("MADOGUCHI_PRODUCTION", default=False)
VAR_DIR = Path(env.str("MADOGUCHI_VAR_DIR", default=str(PROJECT_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret(name: str, make: "callable[[], str]") -> str:
    """Read (or create once) a secret under var/ — development only; production must set it explicitly."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make() + "\n", encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()


def _required_in_production(var: str, name: str, make: "callable[[], str]") -> str:
    value = env.str(var, default="")
    if value:
        return value
    if PRODUCTION:
        raise environ.ImproperlyConfigured(f"{var} must be set when MADOGUCHI_PRODUCTION is true")
    return _development_secret(name, make)


def _new_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


SECRET_KEY = _required_in_production("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# 三層の対策: which URL sets (and which data) this process serves. See core/zones.py.
MADOGUCHI_ZONE = Zone(env.str("MADOGUCHI_ZONE", default=Zone.ALL.value))
# 無害化 runs in a separate process: a file that takes longer or needs more memory is refused and quarantined.
SANITIZE_TIMEOUT_SECONDS = env.float("SANITIZE_TIMEOUT_SECONDS", default=30)
SANITIZE_MEMORY_MB = env.int("SANITIZE_MEMORY_MB", default=1024)

INSTALLED_APPS = [
    "madoguchi.core",
    "madoguchi.vault",
    "madoguchi.identity",
    "madoguchi.web",
    "madoguchi.points",
    "madoguchi.security",
    "madoguchi.privacy",
    "madoguchi.cloud",
    "madoguchi.procedures",
    "madoguchi.grants",
    "madoguchi.identity.admin_site.MadoguchiAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "madoguchi.core.middleware.MyNumberInURLGuardMiddleware",
    "madoguchi.core.middleware.ZoneMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "madoguchi.core.middleware.TenantMiddleware",
    "madoguchi.identity.desk.DeskModeMiddleware",
]

ROOT_URLCONF = "madoguchi.conf.urls"
WSGI_APPLICATION = "madoguchi.conf.wsgi.application"
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "web:staff_login"
LOGIN_REDIRECT_URL = "web:staff_home"
LOGOUT_REDIRECT_URL = "web:home"

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
                "madoguchi.web.context_processors.platform",
            ],
        },
    },
]


# --- Databases ---------------------------------------------------------------------------------------------
# `default` holds everything but My Number values; `vault` (個人番号利用事務系) holds only those, encrypted.
def _database(var: str, sqlite_name: str) -> dict:
    config = env.db_url(var, default=f"sqlite:///{VAR_DIR / sqlite_name}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Django's SQLite backend with a flush that knows about the append-only audit table.
        config["ENGINE"] = "madoguchi.core.db.backends.sqlite3"
        # IMMEDIATE: a writing transaction takes the write lock at BEGIN, so two writers never both read the
        # audit chain head and then fail to upgrade their lock; WAL lets readers run beside the one writer.
        config.setdefault("OPTIONS", {}).update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    else:
        if config["ENGINE"] == "django.db.backends.postgresql":
            # Django's backend with a health check that polls the socket before falling back to SELECT 1.
            config["ENGINE"] = "madoguchi.core.db.backends.postgresql"
        config.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
        config.setdefault("CONN_HEALTH_CHECKS", True)
        # Server-side parameters and prepared statements: psycopg prepares a statement once it has run
        # `prepare_threshold` times on a connection, and PostgreSQL then skips parsing and planning it. On a
        # filed application this cut the database's CPU by about 40 % (bench/procedures_submit.py). Off for a
        # pooler in transaction mode that does not track prepared statements (PgBouncer before 1.22: psycopg
        # sends DEALLOCATE ALL). At least 1: psycopg counts only single-statement queries towards it, and 0
        # would try to prepare a multi-statement string (points/ingest.py sends one) on its first run.
        threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
        if threshold >= 0:
            config.setdefault("OPTIONS", {}).update(
                {"server_side_binding": True, "prepare_threshold": max(threshold, 1)}
            )
    config["ATOMIC_REQUESTS"] = False
    return config


DATABASES = {
    "default": _database("DATABASE_URL", "madoguchi.sqlite3"),
    "vault": _database("VAULT_DATABASE_URL", "vault.sqlite3"),
}
if not MADOGUCHI_ZONE.may_read_vault:
    # Refused at start-up: an Internet- or LGWAN-zone process is not given the vault at all; any use raises.
    # A VAULT_DATABASE_URL set for it anyway is reported by `madoguchi check` (core.checks).
    DATABASES["vault"] = {"ENGINE": "django.db.backends.dummy"}
DATABASE_ROUTERS = ["madoguchi.vault.routers.VaultRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Vault keys --------------------------------------------------------------------------------------------
# AES-256-GCM key for My Number values (base64 of 32 bytes). Previous keys (comma-separated, "id:base64")
# still decrypt after a rotation. The index key makes the keyed lookup hash that finds an existing value
# without decrypting; it is separate so that rotating the encryption key does not force a re-index.
VAULT_KEY = _required_in_production("MADOGUCHI_VAULT_KEY", "vault_key", _new_aes_key)
VAULT_KEY_ID = env.str("MADOGUCHI_VAULT_KEY_ID", default="k1")
VAULT_PREVIOUS_KEYS = env.list("MADOGUCHI_VAULT_PREVIOUS_KEYS", default=[])
VAULT_INDEX_KEY = _required_in_production("MADOGUCHI_VAULT_INDEX_KEY", "vault_index_key", _new_aes_key)


# Sealed hand-over of My Numbers (vault/sealing.py): a zone that may not use the vault seals a typed My Number
# to the My Number zone's X25519 public key (base64 of the raw 32 bytes); only the My Number zone (or `all`)
# holds the private key, and `madoguchi procedures unseal` stores the numbers in the vault. Without a public
# key such a zone refuses My Number forms as before. `madoguchi vault sealing-keygen` prints a new pair; in
# development a pair is generated under var/ (production: set them explicitly; `madoguchi check` reports).
def _sealing_keys() -> tuple[str, str]:
    from madoguchi.vault.sealing import generate_keypair, public_key_of

    public = env.str("MYNUMBER_SEALING_PUBLIC_KEY", default="")
    private = env.str("MYNUMBER_SEALING_PRIVATE_KEY", default="") if MADOGUCHI_ZONE.may_read_vault else ""
    if not PRODUCTION and not public:
        private_dev = private or _development_secret(
            "mynumber_sealing_private_key", lambda: generate_keypair()[0]
        )
        public = public_key_of(private_dev)
        if MADOGUCHI_ZONE.may_read_vault and not private:
            private = private_dev
    return public, private


MYNUMBER_SEALING_PUBLIC_KEY, MYNUMBER_SEALING_PRIVATE_KEY = _sealing_keys()

# --- Passwords ---------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time -------------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Tokyo"
USE_TZ = True

# --- Static files (served by the app itself: no CDN) -------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
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

# --- Cache and sessions ------------------------------------------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Mail --------------------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Madoguchi <no-reply@madoguchi.localhost>")

# --- Background work ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# No broker: run tasks in the calling process (and let their errors surface), so nothing extra must run.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Security ----------------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging -----------------------------------------------------------------------------------------------
# Every handler carries the My Number redaction filter: a filter on a handler sees every record that reaches
# it, whichever logger emitted it (a filter on a logger would miss its children).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_my_number": {"()": "madoguchi.core.redaction.MyNumberRedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_my_number"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

# --- API ---------------------------------------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50

# --- JPKI (My Number Card) -------------------------------------------------------------------------------
# Trust anchors and CRLs are PEM/DER files; production: J-LIS's CA certificates and CRLs. With none set in
# development, the test CA under var/jpki/ (created by `madoguchi jpki init-ca`) is trusted.
JPKI_TEST_CA_DIR = Path(env.str("JPKI_TEST_CA_DIR", default=str(VAR_DIR / "jpki")))
JPKI_TRUST_ANCHORS = env.list("JPKI_TRUST_ANCHORS", default=[])
JPKI_CRL_FILES = env.list("JPKI_CRL_FILES", default=[])
JPKI_CRL_DIR = Path(env.str("JPKI_CRL_DIR", default=str(VAR_DIR / "jpki" / "crl")))
JPKI_CHALLENGE_SECONDS = env.int("JPKI_CHALLENGE_SECONDS", default=120)
# HMAC key for the holder key (name + date of birth + sex from the signing certificate) that spots a renewed
# card before its linkage arrives. Base64 of 32 random bytes; keep it stable (changing it forgets holders).
IDENTITY_HOLDER_KEY = _required_in_production("MADOGUCHI_HOLDER_KEY", "holder_key", _new_aes_key)
# Desk mode on shared municipal terminals: a resident's session ends after this many idle seconds.
DESK_IDLE_SECONDS = env.int("DESK_IDLE_SECONDS", default=300)
# Bearer tokens returned by the JPKI sign-in API.
API_TOKEN_SECONDS = env.int("API_TOKEN_SECONDS", default=3600)
# The browser card simulator (demo cards, same challenge-response protocol); never in production.
JPKI_CARD_SIMULATOR = env.bool("JPKI_CARD_SIMULATOR", default=not PRODUCTION)

# Staff MFA: TOTP (RFC 6238) with any authenticator app; the issuer is the label the app shows.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Madoguchi")

# --- GビズID (OpenID Connect) ------------------------------------------------------------------------------
# Empty issuer in development: the built-in development OpenID provider at /dev-idp/ plays GビズID.
GBIZID_ISSUER = env.str("GBIZID_ISSUER", default="")
GBIZID_CLIENT_ID = env.str("GBIZID_CLIENT_ID", default="madoguchi-dev")
GBIZID_CLIENT_SECRET = env.str("GBIZID_CLIENT_SECRET", default="" if PRODUCTION else "madoguchi-dev-secret")
GBIZID_SCOPES = env.list("GBIZID_SCOPES", default=["openid", "profile", "user", "email"])
DEV_IDP_ENABLED = env.bool("MADOGUCHI_DEV_IDP", default=not PRODUCTION) and not GBIZID_ISSUER
if DEV_IDP_ENABLED:
    INSTALLED_APPS.append("madoguchi.devidp")

# --- マイナポイント ---------------------------------------------------------------------------------------
# The sandbox payment provider (its own small app) answers account confirmations in development.
SANDBOX_PAY_ENABLED = env.bool("MADOGUCHI_SANDBOX_PAY", default=not PRODUCTION)
if SANDBOX_PAY_ENABLED:
    INSTALLED_APPS.append("madoguchi.sandboxpay")

# Group commit of the online grant (points/coalesce.py): concurrent one-item grant requests of a server process
# recorded in one transaction. Only with PostgreSQL and a server that runs several threads per process.
POINTS_GRANT_COALESCING = env.bool("POINTS_GRANT_COALESCING", default=True)

# --- Procedure fees (e-applications) ---------------------------------------------------------------------
# The fee-payment gateway (hosted payment page, signed callbacks); procedures/payments.py is its adapter. In
# development the sandbox gateway (its own small app) plays it on this host's default port, like the sandbox
# provider's callback; it is refused in production.
SANDBOX_GATEWAY_ENABLED = env.bool("MADOGUCHI_SANDBOX_GATEWAY", default=not PRODUCTION)
if SANDBOX_GATEWAY_ENABLED:
    if PRODUCTION:
        raise environ.ImproperlyConfigured(
            "MADOGUCHI_SANDBOX_GATEWAY must be off when MADOGUCHI_PRODUCTION is true"
        )
    INSTALLED_APPS.append("madoguchi.sandboxgateway")
FEE_GATEWAY_BASE_URL = env.str(
    "FEE_GATEWAY_BASE_URL", default="" if PRODUCTION else "http://localhost:8000/sandbox-gateway"
).rstrip("/")
FEE_GATEWAY_API_KEY = _required_in_production(
    "FEE_GATEWAY_API_KEY", "fee_gateway_api_key", lambda: secrets.token_urlsafe(32)
)
FEE_GATEWAY_WEBHOOK_SECRET = _required_in_production(
    "FEE_GATEWAY_WEBHOOK_SECRET", "fee_gateway_webhook_secret", lambda: secrets.token_urlsafe(32)
)

# --- 匿名加工情報 (privacy workflow) ---------------------------------------------------------------------------
# Source files of personal-information files, and the anonymized outputs (under output/), live here.
PRIVACY_DIR = Path(env.str("MADOGUCHI_PRIVACY_DIR", default=str(VAR_DIR / "privacy")))
# How long a provision (download) link stays valid.
PRIVACY_PROVISION_DAYS = env.int("MADOGUCHI_PRIVACY_PROVISION_DAYS", default=7)
# The least number of persons a proposal's file must cover (法第114条第1項第2号; the Commission's rules set it,
# commonly cited as 1,000: check the current 施行規則 and override here if it differs).
PRIVACY_MIN_PERSONS = env.int("MADOGUCHI_PRIVACY_MIN_PERSONS", default=1000)
# A creation job with no progress for this long is taken as crashed: it is marked failed when a job is queued.
PRIVACY_JOB_STALE_MINUTES = env.int("MADOGUCHI_PRIVACY_JOB_STALE_MINUTES", default=60)

# --- Product -----------------------------------------------------------------------------------------------
MADOGUCHI_SITE_NAME = env.str("MADOGUCHI_SITE_NAME", default="Madoguchi 窓口")
MADOGUCHI_DEMO = env.bool("MADOGUCHI_DEMO", default=not PRODUCTION)
