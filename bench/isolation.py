"""A bench never shares state with a running instance (or a test run): it uses its own
throwaway PostgreSQL database, its own Redis database and its own Celery queue.

Import this module before ``django.setup()`` (it sets ``REDIS_URL`` and ``CELERY_QUEUE`` for the
process), then run the bench inside ``throwaway_database(label)``: a database
``mcpforge_bench_<label>_<pid>`` on the server of DATABASE_URL, migrated, and dropped at the end
whatever happens. ``BENCH_REDIS_DB`` (default 14; the app uses 0 and ``make test`` 15) picks the
Redis database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
_redis = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path="/" + os.environ.get("BENCH_REDIS_DB", "14")))
os.environ["CELERY_QUEUE"] = f"mcpforge-bench-{os.getpid()}"


@contextmanager
def throwaway_database(label: str) -> Iterator[str]:
    """Django's default connection on a new, migrated database for the duration of the block."""
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    name = f"mcpforge_bench_{label}_{os.getpid()}"[:63]
    app_db = settings.DATABASES["default"]["NAME"]
    if name == app_db:  # setup_databases drops a database of that name first
        raise SystemExit(f"refusing: the bench database {name!r} is the app's database")
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name
    print(f"Creating the throwaway database {name} (migrations take a moment)...", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        yield name
    finally:
        teardown_databases(old_config, verbosity=0)
