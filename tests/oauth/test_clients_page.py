"""The authorised-clients page: each person sees and revokes their own clients; admins see
and revoke everyone's; outsiders get 404 and members revoking another's client 403."""

from __future__ import annotations

import pytest

from tests.oauth.test_oauth_guards import code_from, consent, exchange, pkce, register, setup  # noqa: F401

pytestmark = pytest.mark.django_db


def connect(browser, resource) -> tuple[str, dict]:
    client_id = register(browser)
    verifier, challenge = pkce()
    from tests.oauth.test_oauth_guards import authorize_params

    query = code_from(consent(browser, authorize_params(client_id, challenge, resource)))
    token = exchange(browser, client_id, query["code"], verifier).json()
    return client_id, token


def test_member_sees_and_revokes_own_client_admin_sees_all(setup, client_for):  # noqa: F811
    from oauth2_provider.models import Application

    from apps.accounts.models import ApiToken
    from apps.audit.models import AuditEvent

    people = setup["people"]
    member, admin = client_for(people.member), client_for(people.admin)
    client_id, token = connect(member, setup["resource"])
    _admin_client_id, _ = connect(admin, setup["resource"])
    app = Application.objects.get(client_id=client_id)

    own = member.get(f"/o/{people.org.slug}/oauth-clients/")
    assert own.status_code == 200 and len(own.context["rows"]) == 1
    everyone = admin.get(f"/o/{people.org.slug}/oauth-clients/")
    assert len(everyone.context["rows"]) == 2

    # A member cannot revoke the admin's client; an outsider sees nothing.
    admin_app = Application.objects.exclude(pk=app.pk).get()
    forbidden = member.post(f"/o/{people.org.slug}/oauth-clients/{admin_app.pk}/{people.admin.pk}/revoke/")
    assert forbidden.status_code == 403
    outsider = client_for(people.outsider)
    assert outsider.get(f"/o/{people.org.slug}/oauth-clients/").status_code == 404
    assert outsider.post(f"/o/{people.org.slug}/oauth-clients/{app.pk}/{people.member.pk}/revoke/").status_code == 404

    # The member revokes their own client: mirror revoked (gateway refuses the next call), refresh dead.
    import hashlib

    done = member.post(f"/o/{people.org.slug}/oauth-clients/{app.pk}/{people.member.pk}/revoke/")
    assert done.status_code == 302
    mirror = ApiToken.objects.get(digest=hashlib.sha256(token["access_token"].encode()).hexdigest())
    assert mirror.revoked_at is not None
    refresh = member.post("/oauth/token/", {"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                                            "client_id": client_id})
    assert refresh.status_code == 400
    assert AuditEvent.objects.filter(event_type="oauth.client_revoked").count() == 1
    assert len(member.get(f"/o/{people.org.slug}/oauth-clients/").context["rows"]) == 0

    # The admin revokes the member's... (none left) and their own: allowed.
    assert admin.post(f"/o/{people.org.slug}/oauth-clients/{admin_app.pk}/{people.admin.pk}/revoke/").status_code == 302
    assert len(admin.get(f"/o/{people.org.slug}/oauth-clients/").context["rows"]) == 0


def test_admin_revokes_a_members_client(setup, client_for):  # noqa: F811
    from oauth2_provider.models import Application

    people = setup["people"]
    member, admin = client_for(people.member), client_for(people.admin)
    client_id, _token = connect(member, setup["resource"])
    app = Application.objects.get(client_id=client_id)
    done = admin.post(f"/o/{people.org.slug}/oauth-clients/{app.pk}/{people.member.pk}/revoke/")
    assert done.status_code == 302
    assert len(member.get(f"/o/{people.org.slug}/oauth-clients/").context["rows"]) == 0
