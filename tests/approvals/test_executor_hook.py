"""Approved calls run through the executor the gateway provides (approvals never imports the
gateway); without one, running a call is an error, never a silent success."""

import pytest

from apps.approvals import hooks


def test_the_gateway_provides_the_executor():
    from apps.gateway.upstream import execute_call

    assert hooks._executor is execute_call


def test_no_executor_is_an_error(monkeypatch):
    monkeypatch.setattr(hooks, "_executor", None)
    with pytest.raises(RuntimeError, match="executor"):
        hooks.execute_call(tool=None, environment=None, arguments={})
