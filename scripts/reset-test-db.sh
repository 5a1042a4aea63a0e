#!/usr/bin/env bash
# Recreate the database `make test` checks against (DATABASE_URL), fresh and migrated, so that
# system checks (e.g. the KEK canary) see a real schema and no other checkout's data.
set -euo pipefail
db="${DATABASE_URL:?DATABASE_URL is required}"
name="${db##*/}"; name="${name%%\?*}"
case "$name" in *ci*|*test*) ;; *) echo "refusing to reset '$name': not a test database" >&2; exit 1;; esac
psql "${db%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"${name}\" WITH (FORCE)"
psql "${db%/*}/postgres" -qc "CREATE DATABASE \"${name}\""
.venv/bin/python manage.py migrate --noinput -v0
