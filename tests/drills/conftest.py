"""Failure drills and the multi-process soak: the gateway as real uvicorn processes (and Celery
workers) on the pytest database, with pieces of the infrastructure taken away on purpose.

Everything here is bounded in time and cleans up after itself: every process a fixture starts
is stopped (terminate, then kill) when the test ends, and a Redis started for a drill runs on a
free port of its own (the shared Redis is never stopped). Select with ``-m drill`` / ``-m soak``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import *  # noqa: F403 - world, prism, gateway_server, misbehaving_upstream...
from tests.gateway.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"


def database_url_of_the_tests() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _log(name: str):
    ARTIFACTS.mkdir(exist_ok=True)
    return open(ARTIFACTS / f"{name}.log", "ab")  # noqa: SIM115 - closed by the caller


def child_env(**overrides: str) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(DATABASE_URL=database_url_of_the_tests(), REDIS_URL=settings.REDIS_URL,
               CELERY_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE, MCPFORGE_TESTING="true")
    env.setdefault("SECRET_KEY", "test-secret-key")
    env.update(overrides)
    return env


@contextmanager
def gateway_process(*, workers: int = 1, **env: str) -> Iterator[str]:
    """``uvicorn mcpforge.asgi:application --workers N`` as production runs it (scripts/run.sh),
    on the pytest database; yields its base URL."""
    port = free_port()
    log = _log("drill-gateway")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "mcpforge.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log",
         # longer than a loaded client's gap between calls: no keep-alive race on the client side
         "--timeout-keep-alive", "30"],
        cwd=REPO_ROOT, env=child_env(**env), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the gateway exited with {process.returncode}; see test-artifacts/drill-gateway.log")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the gateway did not start within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)
        log.close()


class OwnRedis:
    """A redis-server of this test's own, on a free port, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
                                         "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, timeout=10)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def endpoint(world, base_url: str) -> str:
    return f"{base_url}/mcp/{world.people.org.slug}/{world.project.slug}/{world.environment.slug}/"
