"""The gateway reaches apps.oauth only through apps.gateway.hooks (issue 23): without a
provider an OAuth access token is refused, never taken for a personal token."""

import pytest

from apps.gateway import hooks
from apps.gateway.selectors import GatewayRefusal


def test_oauth_is_provided_by_the_oauth_app():
    from apps.oauth import gateway, resources

    assert hooks._oauth is not None and hooks._oauth.caller_params is gateway.caller_params
    assert resources.ACCESS_TOKEN_PREFIX == hooks.OAUTH_TOKEN_PREFIX
    assert hooks.is_oauth_token(resources.generate_access_token())


def test_without_a_provider_an_oauth_token_is_refused(monkeypatch):
    monkeypatch.setattr(hooks, "_oauth", None)
    with pytest.raises(GatewayRefusal) as refused:
        hooks.oauth_caller_params(raw_token="mcpfo_" + "a" * 43, org_slug="o", project_slug="p", env_slug="e")
    assert refused.value.status == 401 and refused.value.error == "invalid_token"
    assert hooks.resource_metadata_url("/mcp/o/p/e/") is None
    assert hooks.oauth_client_of_token(1) is None
