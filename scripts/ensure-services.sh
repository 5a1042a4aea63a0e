#!/usr/bin/env bash
# Start the local PostgreSQL and Redis if they are not answering (developer machines and CI).
set -euo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
# The application database (tests create their own test_ database).
db="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mcpforge}"
name="${db##*/}"; name="${name%%\?*}"
psql "${db%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='${name}'" | grep -q 1 \
  || psql "${db%/*}/postgres" -qc "CREATE DATABASE \"${name}\""
