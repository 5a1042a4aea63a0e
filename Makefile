# make run  — set up everything and serve http://127.0.0.1:8000 with a Celery worker
# make test — the whole suite: lint, Django checks, pytest on the real Postgres/Redis/worker/browser
PY := .venv/bin/python
RUN_ENV := DEBUG=$${DEBUG:-true}
# Tests use their own database (pytest creates test_mcpforge_ci), never the development one, so a
# checkout's generated dev KEK never meets another checkout's stored credentials.
TEST_DB := $${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mcpforge_ci}
TEST_ENV := MCPFORGE_TESTING=true SECRET_KEY=test-secret-key DEBUG=false DATABASE_URL=$(TEST_DB) \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} CELERY_QUEUE=$${TEST_CELERY_QUEUE:-mcpforge-test}

.PHONY: run test venv sysdeps services migrate lint check clean bench

.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e ".[dev]"
	touch $@

venv: .venv/.installed

sysdeps:
	./scripts/install-system-deps.sh
	./scripts/install-node-deps.sh

services:
	./scripts/ensure-services.sh

migrate: venv services
	$(RUN_ENV) $(PY) manage.py migrate --noinput

run: venv sysdeps services migrate
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) ./scripts/run.sh

lint: venv
	.venv/bin/ruff check .

check: venv services
	$(TEST_ENV) ./scripts/reset-test-db.sh
	$(TEST_ENV) $(PY) manage.py check --fail-level WARNING
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test: venv sysdeps services lint check
	$(TEST_ENV) $(PY) -m pytest -q $(PYTEST_ARGS)

bench: venv services
	$(RUN_ENV) $(PY) bench/run_all.py

clean:
	rm -rf .venv var test-artifacts
