"""WSGI entry point (the product is served over ASGI; this exists for management tooling)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
application = get_wsgi_application()
