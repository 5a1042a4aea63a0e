"""Settings, all from the environment (README.md lists every variable).

Secrets may also come from files: for any variable NAME, NAME_FILE names a file whose
content is used instead (Docker/Kubernetes secrets), as healthchecks' settings do.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    """NAME from the environment, else the content of the file NAME_FILE, else default."""
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return default


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    value = env_str(name, default) or ""
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or env_bool("MCPFORGE_DEV_SECRET", False):
        SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured("SECRET_KEY is not set (or set DEBUG=true for local development)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")
SITE_URL = (env_str("SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

from mcpforge.installed_apps import INSTALLED_APPS  # noqa: E402,F401 - one list, shared with settings_scan

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
    "apps.audit.refusals.RefusalAuditMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "mcpforge.urls"
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
                "apps.accounts.context_processors.navigation",
            ],
            "builtins": ["apps.core.templatetags.mf"],
        },
    },
]
WSGI_APPLICATION = "mcpforge.wsgi.application"
ASGI_APPLICATION = "mcpforge.asgi.application"

DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mcpforge")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("MCPForge needs PostgreSQL (DATABASE_URL=postgres://...)")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "mcpforge") or "mcpforge"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task whose worker died (kill -9, OOM, lost host) is redelivered by the Redis transport once
# it has been unacknowledged this long (acks_late). It must exceed the longest task and the
# approved-call lease below (checked after the gateway settings), so that a redelivered
# approved call whose worker died finds its lease over and is failed, never run again.
CELERY_VISIBILITY_TIMEOUT_SECONDS = env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
    # every worker looks for abandoned messages this often (kombu's default: every 100 s)
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT_SECONDS // 4)),
    "unacked_restore_throttle": 1,
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# django-allauth: email is the login; verification optional so a fresh install works offline.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]

# Enterprise sign-in for people: one OpenID Connect provider (allauth's openid_connect), from the
# environment; nothing is offered unless MCPFORGE_OIDC_SERVER_URL and MCPFORGE_OIDC_CLIENT_ID are set.
# Joining an organization by verified email domain is a per-organization setting (apps/accounts).
MCPFORGE_OIDC_PROVIDER_ID = env_str("MCPFORGE_OIDC_PROVIDER_ID", "") or "sso"
MCPFORGE_OIDC_NAME = env_str("MCPFORGE_OIDC_NAME", "") or "your company account"
MCPFORGE_OIDC_SERVER_URL = (env_str("MCPFORGE_OIDC_SERVER_URL", "") or "").rstrip("/")
MCPFORGE_OIDC_CLIENT_ID = env_str("MCPFORGE_OIDC_CLIENT_ID", "") or ""
MCPFORGE_OIDC_CLIENT_SECRET = env_str("MCPFORGE_OIDC_CLIENT_SECRET", "") or ""
MCPFORGE_OIDC_PKCE = env_bool("MCPFORGE_OIDC_PKCE", True)


def oidc_apps(*, provider_id: str, name: str, server_url: str, client_id: str, secret: str, pkce: bool) -> list:
    """allauth's ``APPS`` entry for one OpenID Connect provider (empty when not configured)."""
    if not (server_url and client_id):
        return []
    return [{
        "provider_id": provider_id,
        "name": name,
        "client_id": client_id,
        "secret": secret,
        "settings": {
            "server_url": server_url,
            "oauth_pkce_enabled": pkce,
            # client_secret_basic when there is a secret; a public client sends only its id
            "token_auth_method": "client_secret_basic" if secret else "client_secret_post",
        },
    }]


SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": oidc_apps(
    provider_id=MCPFORGE_OIDC_PROVIDER_ID, name=MCPFORGE_OIDC_NAME, server_url=MCPFORGE_OIDC_SERVER_URL,
    client_id=MCPFORGE_OIDC_CLIENT_ID, secret=MCPFORGE_OIDC_CLIENT_SECRET, pkce=MCPFORGE_OIDC_PKCE)}}
SOCIALACCOUNT_ADAPTER = "apps.accounts.sso.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False  # the "Sign in with ..." button is a POST form with a CSRF token
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # an IdP never takes over an existing password account
SOCIALACCOUNT_EMAIL_REQUIRED = True
MFA_TOTP_ISSUER = "MCPForge"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "MCPForge <noreply@mcpforge.local>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MCPForge API",
    "DESCRIPTION": "Import OpenAPI specs, review the generated MCP tools, govern and audit them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if env_bool("MCPFORGE_TESTING", False):
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = DEBUG

SESSION_COOKIE_SECURE = SITE_URL.startswith("https")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Product limits
SPEC_MAX_BYTES = env_int("SPEC_MAX_BYTES", 25 * 1024 * 1024)
SPEC_IMPORT_ALLOWED_HOSTS = env_list("SPEC_IMPORT_ALLOWED_HOSTS", "")
DATA_UPLOAD_MAX_MEMORY_SIZE = SPEC_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Upstream credentials: envelope encryption (apps/credentials/crypto.py). MCPFORGE_KEK is the
# base64 of 32 random bytes (or MCPFORGE_KEK_FILE); MCPFORGE_KEK_PREVIOUS holds retired keys
# during a rotation (`manage.py rotate_kek`). With VAULT_ADDR set, Vault transit wraps data keys.
# A wrong key fails `manage.py check` and the first credential use (stored canary). Development
# and tests without a KEK use var/dev-kek, generated on first run; production never does.
MCPFORGE_KEK = env_str("MCPFORGE_KEK", "")
MCPFORGE_KEK_PREVIOUS = env_str("MCPFORGE_KEK_PREVIOUS", "")
MCPFORGE_DEV_KEK_FILE = str(BASE_DIR / "var" / "dev-kek") if DEBUG or env_bool("MCPFORGE_TESTING", False) else ""
VAULT_ADDR = env_str("VAULT_ADDR", "")
VAULT_TOKEN = env_str("VAULT_TOKEN", "")
VAULT_NAMESPACE = env_str("VAULT_NAMESPACE", "")
VAULT_CACERT = env_str("VAULT_CACERT", "")
MCPFORGE_VAULT_TRANSIT_KEY = env_str("MCPFORGE_VAULT_TRANSIT_KEY", "mcpforge")
MCPFORGE_VAULT_TRANSIT_MOUNT = env_str("MCPFORGE_VAULT_TRANSIT_MOUNT", "transit")
# Audit chain key (apps/audit/keys.py): HMAC key of the tamper-evident audit chain and its
# signed checkpoints, base64 of 32 random bytes (or AUDIT_CHAIN_KEY_FILE). Separate from the KEK:
# rotating the KEK must not make the audit history unverifiable. Development and tests without
# one use var/dev-audit-key, generated on first run; production without it fails `manage.py check`.
AUDIT_CHAIN_KEY = env_str("AUDIT_CHAIN_KEY", "")
AUDIT_DEV_CHAIN_KEY_FILE = (str(BASE_DIR / "var" / "dev-audit-key")
                            if DEBUG or env_bool("MCPFORGE_TESTING", False) else "")
# Seconds between signed checkpoints of every organization's audit chain (Celery beat).
AUDIT_CHECKPOINT_SECONDS = env_int("AUDIT_CHECKPOINT_SECONDS", 3600)
CREDENTIAL_MAX_AGE_DAYS = env_int("CREDENTIAL_MAX_AGE_DAYS", 90)
# How long a rotated-out credential version stays usable for in-flight calls before it is wiped.
CREDENTIAL_ROTATION_GRACE_SECONDS = env_int("CREDENTIAL_ROTATION_GRACE_SECONDS", 300)

# MCP gateway (apps/gateway)
MCP_ALLOWED_ORIGINS = env_list("MCP_ALLOWED_ORIGINS", "")
MCP_APPROVAL_WAIT_SECONDS = env_int("MCP_APPROVAL_WAIT_SECONDS", 0)
MCP_RATE_LIMIT_PER_TOKEN = env_int("MCP_RATE_LIMIT_PER_TOKEN", 120)
MCP_RATE_LIMIT_PER_TOOL = env_int("MCP_RATE_LIMIT_PER_TOOL", 60)
# Rate-limit counters are namespaced per instance (database ids repeat across databases).
MCP_RATE_LIMIT_PREFIX = env_str("MCP_RATE_LIMIT_PREFIX", "") or f"mcpforge:rl:{DATABASES['default']['NAME']}"
MCP_UPSTREAM_TIMEOUT_SECONDS = env_int("MCP_UPSTREAM_TIMEOUT_SECONDS", 15)
MCP_UPSTREAM_CONNECT_TIMEOUT_SECONDS = env_int("MCP_UPSTREAM_CONNECT_TIMEOUT_SECONDS", 5)
# An approved call's execution lease: a worker that claimed it and is still "executing" once the
# lease is over has died mid-call (the upstream deadline is far shorter). The call is then failed
# with "outcome unknown" by its redelivered task or by the sweep, and never run a second time.
APPROVAL_EXECUTION_LEASE_SECONDS = env_int("APPROVAL_EXECUTION_LEASE_SECONDS", 900)
if APPROVAL_EXECUTION_LEASE_SECONDS < MCP_UPSTREAM_TIMEOUT_SECONDS + 5:
    raise ImproperlyConfigured("APPROVAL_EXECUTION_LEASE_SECONDS must be at least MCP_UPSTREAM_TIMEOUT_SECONDS + 5: "
                               "a live worker's call would be declared lost.")
if CELERY_VISIBILITY_TIMEOUT_SECONDS < APPROVAL_EXECUTION_LEASE_SECONDS + 5:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT_SECONDS must be at least APPROVAL_EXECUTION_LEASE_SECONDS "
                               "+ 5: a dead worker's call must be redelivered after its lease is over.")
MCP_UPSTREAM_MAX_BYTES = env_int("MCP_UPSTREAM_MAX_BYTES", 2 * 1024 * 1024)
MCP_UPSTREAM_MAX_REDIRECTS = env_int("MCP_UPSTREAM_MAX_REDIRECTS", 3)
# "" certifi, "system" the OS trust store (truststore), or a PEM file/directory added to certifi
MCP_UPSTREAM_CA_BUNDLE = env_str("MCP_UPSTREAM_CA_BUNDLE", "") or ""
MCP_TOOLS_PAGE_SIZE = env_int("MCP_TOOLS_PAGE_SIZE", 1000)
MCP_COMPACT_TOOLS = env_int("MCP_COMPACT_TOOLS", 1)
MCP_TOOL_TOKEN_BUDGET = env_int("MCP_TOOL_TOKEN_BUDGET", 4000)
MCP_TOOLS_LIST_TTL_SECONDS = env_int("MCP_TOOLS_LIST_TTL_SECONDS", 60)
MCP_DB_THREADS = env_int("MCP_DB_THREADS", 8)
MCP_DB_ASYNC_CONNECTIONS = env_int("MCP_DB_ASYNC_CONNECTIONS", 10)
MCP_AUDIT_BATCH_MS = env_int("MCP_AUDIT_BATCH_MS", 20)

# OAuth 2.1 authorization for the MCP endpoints (apps/oauth, django-oauth-toolkit).
OAUTH_ACCESS_TOKEN_SECONDS = env_int("OAUTH_ACCESS_TOKEN_SECONDS", 600)
OAUTH_REFRESH_TOKEN_SECONDS = env_int("OAUTH_REFRESH_TOKEN_SECONDS", 30 * 86400)
OAUTH_DCR_ENABLED = env_bool("OAUTH_DCR_ENABLED", True)
OAUTH_CIMD_ENABLED = env_bool("OAUTH_CIMD_ENABLED", True)
# Hosts whose client metadata documents may be on private/loopback addresses (apps/oauth/cimd.py);
# empty: CIMD documents only from public addresses. Link-local and metadata addresses: never.
OAUTH_CIMD_PRIVATE_HOSTS = env_list("OAUTH_CIMD_PRIVATE_HOSTS", "")
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "apps.oauth.validators.McpValidator",
    "ACCESS_TOKEN_GENERATOR": "apps.oauth.resources.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "SCOPES": {"mcp": "Call the tools of one MCP endpoint as you"},
    "DEFAULT_SCOPES": ["mcp"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OAUTH_REFRESH_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ALLOW_URI_WILDCARDS": False,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "OIDC_ISS_ENDPOINT": SITE_URL,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_basic", "client_secret_post"],
    "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [SITE_URL],
    "OAUTH2_PROTECTED_RESOURCE_NAME": "MCPForge MCP endpoint",
    "DCR_ENABLED": OAUTH_DCR_ENABLED,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "CIMD_ENABLED": OAUTH_CIMD_ENABLED,
    "CIMD_METADATA_FETCHER": "apps.oauth.cimd.EgressMetadataFetcher",
    "CIMD_FETCH_TIMEOUT_SECONDS": 5,
    "CIMD_MAX_DOCUMENT_SIZE": 16 * 1024,
}

# Approval notifications: outgoing webhooks to private/loopback receivers are refused unless set.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every request URL at INFO; an upstream API key in a query string must not reach logs.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
