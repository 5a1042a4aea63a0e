"""Settings for ``manage.py scan`` only: the offline CI gate that must start in a bare shell.

``manage.py`` selects this module when the sub-command is ``scan`` and
``DJANGO_SETTINGS_MODULE`` is not set. It reads no environment variable but
``SPEC_MAX_BYTES`` and configures no database, cache or broker: Django's dummy
database backend raises on any query, so nothing here can silently depend on a
server. The production module (``mcpforge.settings``) keeps its strict checks
(SECRET_KEY required, PostgreSQL only) for every other command.
"""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Nothing is signed or stored: a per-process random key only satisfies Django's setup.
SECRET_KEY = secrets.token_urlsafe(48)
DEBUG = False
ALLOWED_HOSTS: list[str] = []

from mcpforge.installed_apps import INSTALLED_APPS  # noqa: E402,F401 - the same apps as mcpforge.settings

# allauth's ready() insists on its middleware being listed; nothing is served.
MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]
ROOT_URLCONF = "mcpforge.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True}]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]

DATABASES: dict = {}  # django.db.backends.dummy: any query raises ImproperlyConfigured
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = False
USE_TZ = True
# read by apps.audit's ready() for the beat schedule; nothing is scheduled by the scan
AUDIT_CHECKPOINT_SECONDS = 3600
TIME_ZONE = "UTC"

_max_bytes = os.environ.get("SPEC_MAX_BYTES", "")
SPEC_MAX_BYTES = int(_max_bytes) if _max_bytes.isdigit() else 25 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
