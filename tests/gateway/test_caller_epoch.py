"""The caller epoch (gateway migration 0001): every change a cached gateway caller could depend
on bumps its organization's epoch, and nothing else does.

A warm tools/call is confirmed by comparing this epoch (and the project's config version) in
the statement that writes its audit row, so a change that failed to bump it would let a
revoked token or a removed member through on a cached caller. Each case below makes one
change through the service an admin would use, or through raw ORM/SQL where no service
exists, and reads the epoch back. The end-to-end consequences (401, 403, a replanned call)
are in test_confirmed_caller.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.conftest import make_user
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def epoch(org) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT epoch FROM gateway_callerepoch WHERE organization_id = %s", [org.pk])
        row = cursor.fetchone()
    return row[0] if row else 0


@pytest.fixture
def setup(people):
    from apps.accounts.models import ApiToken
    from apps.accounts.services import team_create, token_create

    project = make_project(people.org, people.owner)
    token, raw = token_create(organization=people.org, user=people.member, name="agent")
    team = team_create(organization=people.org, name="Payments", actor=people.owner)
    return people, project, ApiToken.objects.get(pk=token.pk), raw, team


def bumps(org, change) -> bool:
    before = epoch(org)
    change()
    return epoch(org) > before


def test_token_revoked_renamed_or_deleted_bumps(setup):
    from apps.accounts.services import token_revoke

    people, _, token, _, _ = setup
    assert bumps(people.org, lambda: token_revoke(token=token, actor=people.owner))
    token.refresh_from_db()
    token.name = "renamed"
    assert bumps(people.org, lambda: token.save())
    assert bumps(people.org, lambda: token.delete())


def test_token_expiry_moved_bumps(setup):
    from apps.accounts.models import ApiToken

    people, _, token, _, _ = setup
    assert bumps(people.org, lambda: ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() + timedelta(days=1)))


def test_last_used_touch_does_not_bump(setup):
    """The once-a-minute touch (the gateway's TOUCH_SQL and the REST API's authentication)
    must not invalidate every cached caller of the organization."""
    from apps.accounts.services import token_authenticate
    from apps.gateway.selectors import TOUCH_SQL

    people, _, token, raw, _ = setup
    before = epoch(people.org)
    with connection.cursor() as cursor:
        cursor.execute(TOUCH_SQL, [timezone.now(), token.pk])
    assert token_authenticate(raw) is not None
    assert epoch(people.org) == before


def test_membership_role_change_and_removal_bump(setup):
    from apps.accounts.models import Membership
    from apps.accounts.services import membership_change_role, membership_remove

    people, _, _, _, _ = setup
    membership = Membership.objects.get(organization=people.org, user=people.member)
    assert bumps(people.org, lambda: membership_change_role(membership=membership, role="viewer",
                                                            actor=people.owner, actor_role="owner"))
    assert bumps(people.org, lambda: membership_remove(membership=membership, actor=people.owner, actor_role="owner"))
    assert bumps(people.org, lambda: Membership.objects.create(organization=people.org, user=people.member,
                                                               role="member"))


def test_team_membership_and_team_deletion_bump(setup):
    from apps.accounts.services import team_add_member, team_delete, team_remove_member

    people, _, _, _, team = setup
    assert bumps(people.org, lambda: team_add_member(team=team, user=people.member, actor=people.owner))
    assert bumps(people.org, lambda: team_remove_member(team=team, user=people.member, actor=people.owner))
    team_add_member(team=team, user=people.member, actor=people.owner)
    assert bumps(people.org, lambda: team_delete(team=team, actor=people.owner))


def test_user_deactivated_or_renamed_bumps_every_organization_of_the_user(setup):
    from apps.accounts.models import Membership

    people, _, _, _, _ = setup
    Membership.objects.create(organization=people.other_org, user=people.member, role="member")
    member = people.member
    before = epoch(people.org), epoch(people.other_org)
    member.is_active = False
    member.save()
    assert epoch(people.org) > before[0] and epoch(people.other_org) > before[1]
    member.refresh_from_db()
    member.email = "renamed@acme.test"
    assert bumps(people.org, lambda: member.save())


def test_user_login_timestamp_does_not_bump(setup):
    people, _, _, _, _ = setup
    member = people.member
    member.last_login = timezone.now()
    assert not bumps(people.org, lambda: member.save(update_fields=["last_login"]))


def test_organization_project_and_environment_changes_bump(setup):
    from apps.credentials.services import environment_upstream_set
    from apps.projects.services import environment_create, project_update

    people, project, _, _, _ = setup
    org = people.org
    org.name = "Acme Renamed"
    assert bumps(org, lambda: org.save())
    assert bumps(org, lambda: project_update(project=project, actor=people.owner, description="New facts"))
    environment = project.environments.get(slug="development")
    assert bumps(org, lambda: environment_upstream_set(environment=environment, base_url="http://127.0.0.1:9",
                                                        allow_private_network=True, actor=people.owner))
    assert bumps(org, lambda: environment_create(project=project, name="QA", actor=people.owner))
    assert bumps(org, lambda: project.environments.get(slug="qa").delete())


def test_other_organizations_are_not_bumped(setup):
    from apps.accounts.services import token_revoke

    people, _, token, _, _ = setup
    other = epoch(people.other_org)
    token_revoke(token=token, actor=people.owner)
    make_user("new@acme.test")
    assert epoch(people.other_org) == other


def test_the_epoch_only_grows(setup):
    """A missing row reads as 0 and the first bump writes 1: a stale cached epoch never matches again."""
    people, project, _, _, _ = setup
    seen = [epoch(people.org)]
    for name in ("a", "b", "c"):
        project.name = name
        project.save()
        seen.append(epoch(people.org))
    assert seen == sorted(set(seen)) and seen[0] >= 1
