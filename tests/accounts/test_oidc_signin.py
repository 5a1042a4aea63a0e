"""Enterprise sign-in against a real OpenID Connect provider on the live server.

The provider is django-oauth-toolkit with OIDC on (RS256 key generated here) at
http://localhost:<port>/idp; MCPForge is the relying party at http://127.0.0.1:<port> (another
host name, so the two keep separate cookies). ``requests`` drives the whole flow over HTTP: the
"Sign in with Acme SSO" button on the login page, the provider's own login form, the
authorization code with PKCE, the ID token (signature checked against the provider's JWKS) and
userinfo, back to a signed-in session."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.accounts.models import Membership
from apps.accounts.services import signin_domains_set
from apps.audit.models import AuditEvent
from tests.accounts import oidc_idp
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID = "mcpforge-web"
CLIENT_SECRET = "rp-secret-for-tests-only-0123456789"  # noqa: S105 - test fixture


@pytest.fixture
def idp(live_server, settings, people):
    from oauth2_provider.models import get_application_model

    from mcpforge.settings import oidc_apps

    port = urlparse(live_server.url).port
    rp, issuer = f"http://127.0.0.1:{port}", f"http://localhost:{port}/idp"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    settings.ROOT_URLCONF = "tests.accounts.oidc_idp"
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": key,
        "OIDC_ISS_ENDPOINT": issuer,
        "OAUTH2_VALIDATOR_CLASS": "tests.accounts.oidc_idp.IdpValidator",
        "ACCESS_TOKEN_GENERATOR": None,
        "SCOPES": {"openid": "OpenID Connect", "profile": "Profile", "email": "Email"},
        "DEFAULT_SCOPES": ["openid"],
    }
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": oidc_apps(
        provider_id="acme-sso", name="Acme SSO", server_url=issuer, client_id=CLIENT_ID, secret=CLIENT_SECRET,
        pkce=True)}}
    application = get_application_model()
    application.objects.create(
        name="MCPForge", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        client_type=application.CLIENT_CONFIDENTIAL, authorization_grant_type=application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=f"{rp}/accounts/oidc/acme-sso/login/callback/", algorithm=application.RS256_ALGORITHM,
        skip_authorization=True)
    oidc_idp.CLAIMS.clear()
    _forget_oauthlib_cores()
    yield type("Idp", (), {"rp": rp, "issuer": issuer})
    oidc_idp.CLAIMS.clear()
    _forget_oauthlib_cores()


def _forget_oauthlib_cores() -> None:
    """django-oauth-toolkit caches each view class's oauthlib server (validator and all) on the
    class at its first request (``OAuthLibMixin.get_oauthlib_core``): drop those caches, so the
    provider's token view does not answer with the product's validator cached by an earlier
    test, and the product's views after this test do not keep the provider's."""
    from oauth2_provider.views.mixins import OAuthLibMixin

    pending = [OAuthLibMixin]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "_oauthlib_core" in cls.__dict__:
            delattr(cls, "_oauthlib_core")


def idp_person(login: str, **claims) -> None:
    """A person known to the provider (they sign in there as ``login``) and what it asserts."""
    make_user(login)
    oidc_idp.CLAIMS[login] = claims


def _form(html: str, action_part: str) -> tuple[str, str]:
    for form in re.findall(r"<form[^>]*>.*?</form>", html, re.S):
        action = re.search(r'action="([^"]*)"', form)
        if (action and action_part in action.group(1)) or (not action and not action_part):
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
            return (action.group(1) if action else ""), token
    raise AssertionError(f"no form posting to {action_part!r} in the page")


def sign_in(idp, login: str) -> requests.Session:
    """The person clicks "Sign in with Acme SSO", signs in at the provider, comes back."""
    s = requests.Session()
    s.trust_env = False
    login_page = s.get(f"{idp.rp}/accounts/login/", timeout=30)
    assert login_page.status_code == 200 and "Sign in with Acme SSO" in login_page.text
    action, token = _form(login_page.text, "/accounts/oidc/acme-sso/login/")
    at_idp = s.post(urljoin(login_page.url, action), data={"csrfmiddlewaretoken": token},
                    headers={"Referer": login_page.url}, timeout=30)
    # the provider (another host) asks its own user to sign in
    assert at_idp.url.startswith(idp.issuer.replace("/idp", "/accounts/login/")), at_idp.url
    _, token = _form(at_idp.text, "")
    back = s.post(at_idp.url, data={"csrfmiddlewaretoken": token, "login": login, "password": PASSWORD},
                  headers={"Referer": at_idp.url}, timeout=30)
    assert back.status_code == 200, (back.status_code, back.url, back.text[:500])
    assert back.url.startswith(idp.rp), back.url  # back at MCPForge
    s.landed = back  # type: ignore[attr-defined]
    return s


def me(idp, session) -> str | None:
    r = session.get(f"{idp.rp}/api/v1/me/", timeout=30)
    return r.json()["email"] if r.status_code == 200 else None


def test_login_page_offers_no_provider_when_unconfigured(client):
    login_page = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in login_page


def test_verified_address_of_a_sign_in_domain_joins_on_first_login(idp, people):
    signin_domains_set(organization=people.org, domains="acme.example", role="member", actor=people.owner)
    idp_person("alice@idp.test", email="alice@acme.example", email_verified=True, name="Alice")

    session = sign_in(idp, "alice@idp.test")

    assert me(idp, session) == "alice@acme.example"
    membership = Membership.objects.get(organization=people.org, user__email="alice@acme.example")
    assert membership.role == "member"
    # the organization's pages open for her at once
    assert session.get(f"{idp.rp}/o/{people.org.slug}/", timeout=30).status_code == 200
    (joined,) = AuditEvent.objects.filter(organization=people.org, event_type="member.joined_by_domain")
    assert joined.actor == membership.user
    assert joined.payload["domain"] == "acme.example" and joined.payload["role"] == "member"
    assert joined.payload["provider"] == "acme-sso"

    # a second sign-in is an ordinary login: no second join, no new account
    second = sign_in(idp, "alice@idp.test")
    assert me(idp, second) == "alice@acme.example"
    assert AuditEvent.objects.filter(organization=people.org, event_type="member.joined_by_domain").count() == 1
    from django.contrib.auth import get_user_model
    assert get_user_model().objects.filter(email="alice@acme.example").count() == 1


def test_other_domain_and_unverified_address_never_join(idp, people):
    signin_domains_set(organization=people.org, domains="acme.example", role="reviewer", actor=people.owner)
    idp_person("bob@idp.test", email="bob@other.example", email_verified=True)
    idp_person("carol@idp.test", email="carol@acme.example", email_verified=False)
    idp_person("dave@idp.test", email="dave@acme.example", email_verified="true")  # a string is not a yes
    before = AuditEvent.objects.filter(organization=people.other_org).count()

    for login, email in (("bob@idp.test", "bob@other.example"), ("carol@idp.test", "carol@acme.example"),
                         ("dave@idp.test", "dave@acme.example")):
        session = sign_in(idp, login)
        assert me(idp, session) == email  # signed in ...
        assert not Membership.objects.filter(user__email=email).exists()  # ... but in no organization
        assert session.get(f"{idp.rp}/o/{people.org.slug}/", timeout=30).status_code == 404

    refused = AuditEvent.objects.filter(organization=people.org, event_type="member.domain_join_refused")
    assert sorted(e.payload["email"] for e in refused) == ["carol@acme.example", "dave@acme.example"]
    assert {e.payload["reason"] for e in refused} == {"unverified"}
    assert not AuditEvent.objects.filter(event_type="member.joined_by_domain").exists()
    assert AuditEvent.objects.filter(organization=people.other_org).count() == before


def test_setting_off_nobody_joins(idp, people):
    idp_person("erin@idp.test", email="erin@acme.example", email_verified=True)
    session = sign_in(idp, "erin@idp.test")
    assert me(idp, session) == "erin@acme.example"
    assert not Membership.objects.filter(user__email="erin@acme.example").exists()
    assert not AuditEvent.objects.filter(event_type__startswith="member.").filter(
        event_type__in=["member.joined_by_domain", "member.domain_join_refused"]).exists()


def test_an_idp_login_never_takes_over_an_existing_password_account(idp, people):
    """The provider asserts the (verified) address of an existing MCPForge account: allauth does
    not log into that account (SOCIALACCOUNT_EMAIL_AUTHENTICATION off); the person is asked to
    sign up with another address, and joins nothing."""
    signin_domains_set(organization=people.org, domains="acme.test", role="reviewer", actor=people.owner)
    idp_person("mallory@idp.test", email=people.member.email, email_verified=True)
    session = sign_in(idp, "mallory@idp.test")
    assert "/accounts/3rdparty/signup/" in session.landed.url
    assert me(idp, session) is None
    assert Membership.objects.get(organization=people.org, user=people.member).role == "member"
    assert not AuditEvent.objects.filter(event_type="member.joined_by_domain").exists()


def test_sign_in_button_in_chromium(idp, people, page):
    """The same login in a real browser: the button on the login page, the provider's form, back
    signed in and straight into the organization joined by domain."""
    signin_domains_set(organization=people.org, domains="acme.example", role="viewer", actor=people.owner)
    idp_person("frank@idp.test", email="frank@acme.example", email_verified=True)

    page.goto(f"{idp.rp}/accounts/login/")
    page.get_by_role("button", name="Sign in with Acme SSO").click()
    page.wait_for_url(re.compile(r"^http://localhost:\d+/accounts/login/"))
    page.fill("input[name=login]", "frank@idp.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{idp.rp}/o/{people.org.slug}/")  # home sends a one-organization person there
    assert "Acme" in page.inner_text("body")
    membership = Membership.objects.get(organization=people.org, user__email="frank@acme.example")
    assert membership.role == "viewer"
    assert AuditEvent.objects.filter(organization=people.org, event_type="member.joined_by_domain",
                                     actor=membership.user).count() == 1
