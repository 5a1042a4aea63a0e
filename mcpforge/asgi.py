"""ASGI entry point served by uvicorn (``uvicorn mcpforge.asgi:application``).

A small Starlette app composes the two halves: the MCP gateway (official ``mcp`` SDK,
Streamable HTTP) at ``/mcp/<org>/<project>/<environment>/`` and Django at ``/``. Starlette
owns the ASGI lifespan, which Django's handler does not implement and the SDK's session
manager needs (it runs a task group for the life of the process); see apps/gateway/server.py.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
django_application = get_asgi_application()  # sets Django up before the gateway imports models

from starlette.applications import Starlette  # noqa: E402
from starlette.routing import Mount  # noqa: E402

from apps.gateway.server import gateway  # noqa: E402

application = Starlette(
    routes=[Mount("/mcp", app=gateway), Mount("/", app=django_application)],
    lifespan=gateway.lifespan,
)
