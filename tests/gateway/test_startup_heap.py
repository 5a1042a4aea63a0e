"""The gateway moves its startup heap out of the collector's reach (gc.freeze), once."""

import gc

import httpx
import pytest

from apps.gateway import server

pytestmark = pytest.mark.django_db(transaction=True)


def test_startup_heap_is_frozen_once_the_gateway_runs(gateway_server):
    # the process is serving: /healthz answers through the same ASGI app
    assert httpx.get(gateway_server + "/healthz", timeout=10).status_code == 200
    assert server._heap_frozen
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # Django, the SDK and the app's modules, not a handful of objects
    server._freeze_startup_heap()  # a second lifespan in the same process does not freeze again
    assert gc.get_freeze_count() == frozen
