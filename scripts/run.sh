#!/usr/bin/env bash
# Serve the web app (uvicorn, ASGI) and a Celery worker side by side; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
# uvicorn runs no system checks: refuse to start with a wrong key-encryption key (or other errors).
.venv/bin/python manage.py check --fail-level ERROR >/dev/null
.venv/bin/celery -A mcpforge worker --loglevel=INFO --concurrency="${CELERY_CONCURRENCY:-2}" &
worker=$!
.venv/bin/uvicorn mcpforge.asgi:application --host 127.0.0.1 --port "$PORT" &
web=$!
trap 'kill $web $worker 2>/dev/null; wait $web $worker 2>/dev/null; exit 0' INT TERM
echo "MCPForge at http://127.0.0.1:${PORT}  (Ctrl-C stops the web server and the worker)"
wait -n $web $worker
kill $web $worker 2>/dev/null || true
wait 2>/dev/null || true
