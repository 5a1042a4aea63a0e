"""OAuth tests: the real ASGI app under uvicorn (tests/gateway's fixtures), the official mcp
SDK's OAuthClientProvider, and Chromium (Playwright's async API, inside the SDK's redirect
handler) signing in and answering the consent page."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.gateway.conftest import (  # noqa: F401 - fixtures
    gateway_server,
    misbehaving_upstream,
    prism,
    run_async,
    weird,
    world,
)

CALLBACK = "http://127.0.0.1:53682/callback"


@pytest.fixture
def oauth_world(world, settings):  # noqa: F811
    """``world`` with SITE_URL (issuer, resource indicators) set to the test server's origin."""
    settings.SITE_URL = world.url
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": world.url,
                                "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [world.url]}
    return world


@dataclass
class MemoryStorage:
    tokens: Any = None
    client_info: Any = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens) -> None:
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info) -> None:
        self.client_info = client_info


@dataclass
class Browser:
    """Answers the authorization request in Chromium: sign in, then press ``button`` on the
    consent page. Records what it saw."""

    email: str
    button: str = "#oauth-allow"
    seen: dict[str, Any] = field(default_factory=dict)
    redirect: str = ""

    async def answer(self, authorization_url: str) -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = await browser.new_page()
                page.set_default_timeout(15_000)
                captured: list[str] = []

                # The redirect to the client's callback (nothing listens there): its URL is the answer.
                page.on("request", lambda r: captured.append(r.url) if r.url.startswith(CALLBACK) else None)
                response = await page.goto(authorization_url)
                if "/accounts/login/" in page.url:
                    await page.fill("input[name=login]", self.email)
                    await page.fill("input[name=password]", PASSWORD)
                    await page.click("main button[type=submit]")
                    await page.wait_for_load_state("networkidle")
                    response = None
                self.seen["url"] = page.url
                if await page.locator("#oauth-client-name").count():
                    self.seen["client"] = await page.inner_text("#oauth-client-name")
                    self.seen["redirect_uri"] = await page.inner_text("#oauth-redirect-uri")
                    self.seen["environment"] = await page.inner_text("#oauth-environment")
                    self.seen["tools"] = await page.inner_text("#oauth-tools")
                    self.seen["headers"] = (response.headers if response else
                                            (await page.request.get(page.url)).headers)
                    await page.click(self.button)
                    await page.wait_for_timeout(300)
                    if not captured:
                        self.seen["after"] = (page.url, (await page.inner_text("body"))[:2000])
                else:
                    self.seen["refusal"] = await page.inner_text("body")
                self.redirect = captured[0] if captured else ""
            finally:
                await browser.close()

    async def callback(self):
        from mcp.shared.auth import AuthorizationCodeResult

        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.redirect).query)
        if "code" not in query:
            from mcp.client.auth import OAuthFlowError

            raise OAuthFlowError(f"no code: {query} {self.redirect!r} {self.seen}")
        return AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0],
                                       iss=query.get("iss", [None])[0])


def oauth_provider(endpoint: str, browser: Browser, storage: MemoryStorage, *, client_metadata_url: str | None = None):
    """The SDK's OAuthClientProvider; with ``client_metadata_url`` it registers by CIMD (the URL is
    its client_id) when the authorization server advertises support, else by DCR."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata

    metadata = OAuthClientMetadata(client_name="Test Agent", redirect_uris=[CALLBACK],
                                   grant_types=["authorization_code", "refresh_token"],
                                   response_types=["code"], token_endpoint_auth_method="none", scope="mcp")
    return OAuthClientProvider(server_url=endpoint, client_metadata=metadata, storage=storage,
                               redirect_handler=browser.answer, callback_handler=browser.callback,
                               client_metadata_url=client_metadata_url)


def with_oauth(endpoint: str, provider, fn, *, sent: list[tuple[str, str]] | None = None) -> Any:
    """Run ``fn(client)`` over an SDK session authenticated by ``provider``; every request the SDK
    sends (OAuth discovery, registration, token exchange, MCP) is appended to ``sent`` as
    (method, URL)."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        async def record(request) -> None:
            if sent is not None:
                sent.append((request.method, str(request.url)))

        async with httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(60.0),
                                      event_hooks={"request": [record]}) as http:
            async with Client(streamable_http_client(endpoint, http_client=http), cache=None) as client:
                return await fn(client)

    try:
        return run_async(main())
    except BaseExceptionGroup as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if leaf is group:
            raise
        raise leaf from None
