"""The audit log is append-only and tamper-evident, in the ORM and in the database."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import ProgrammingError

from apps.accounts.services import organization_create, team_create
from apps.audit.models import AppendOnlyError, AuditEvent
from apps.audit.services import audit_record, audit_verify_organization


def _events(org):
    return list(AuditEvent.objects.filter(organization=org).order_by("seq"))


@pytest.mark.django_db
def test_events_form_a_hash_chain(people):
    team_create(organization=people.org, name="Support", actor=people.owner)
    events = _events(people.org)
    assert [e.event_type for e in events] == ["organization.created", "team.created"]
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash
    assert audit_verify_organization(people.org) == (2, None)


@pytest.mark.django_db
def test_orm_refuses_update_and_delete(people):
    event = _events(people.org)[0]
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(event_type="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET event_type = 'member.removed' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_database_trigger_rejects_update_and_delete(people, sql):
    event = _events(people.org)[0]
    with pytest.raises((InternalError, ProgrammingError, IntegrityError)) as err, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert "append-only" in str(err.value)


@pytest.mark.django_db
def test_deleting_a_user_keeps_history_and_chain(people):
    team_create(organization=people.org, name="Ops", actor=people.admin)
    people.admin.delete()
    event = AuditEvent.objects.get(organization=people.org, event_type="team.created")
    assert event.actor_id is None
    assert event.actor_label == "admin@acme.test"
    assert audit_verify_organization(people.org)[1] is None


@pytest.mark.django_db
def test_audit_verify_finds_a_tampered_row(people, capsys):
    team_create(organization=people.org, name="Support", actor=people.owner)
    team_create(organization=people.org, name="Billing", actor=people.owner)
    call_command("audit_verify", "--org", people.org.slug)
    assert "OK (3 events)" in capsys.readouterr().out
    victim = AuditEvent.objects.get(organization=people.org, seq=2)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute("UPDATE audit_auditevent SET payload = '{\"forged\": true}' WHERE id = %s", [victim.pk])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")
    with pytest.raises(SystemExit) as exc:
        call_command("audit_verify", "--org", people.org.slug)
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert f"BROKEN at event #2 ({victim.public_id})" in out
    assert "row was modified" in out
    # other organizations are unaffected
    call_command("audit_verify", "--org", people.other_org.slug)
    assert "OK" in capsys.readouterr().out


@pytest.mark.django_db
def test_deleted_row_breaks_the_chain(people):
    team_create(organization=people.org, name="Support", actor=people.owner)
    team_create(organization=people.org, name="Billing", actor=people.owner)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq = 2", [people.org.pk])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")
    checked, brk = audit_verify_organization(people.org)
    assert brk is not None and brk.seq == 3 and "sequence gap" in brk.reason


@pytest.mark.django_db
def test_audit_is_fail_closed(people, monkeypatch):
    """If the audit row cannot be written, the change it records does not happen."""
    from apps.accounts.models import Team
    from apps.audit import services as audit_services

    def broken_hash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit_services.chain, "event_hash_from_parts", broken_hash)
    with pytest.raises(RuntimeError):
        team_create(organization=people.org, name="Ghost", actor=people.owner)
    assert not Team.objects.filter(name="Ghost").exists()


@pytest.mark.django_db
def test_unknown_event_types_are_refused(people):
    with pytest.raises(ValueError, match="Unknown audit event type"):
        audit_record(organization=people.org, event_type="made.up", actor=people.owner)


@pytest.mark.django_db
def test_secrets_never_reach_the_payload(people):
    event = audit_record(
        organization=people.org,
        event_type="organization.updated",
        actor=people.owner,
        payload={"password": "hunter2", "headers": {"Authorization": "Bearer abcdefgh"}},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert "hunter2" not in str(stored.payload) and "abcdefgh" not in str(stored.payload)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain():
    """Writers in parallel threads are serialised per organization by an advisory lock."""
    import threading

    from django.db import connections

    from tests.conftest import make_user

    owner = make_user("race@acme.test")
    org = organization_create(name="Race", actor=owner)
    errors = []

    def write(i):
        try:
            audit_record(organization=org, event_type="organization.updated", actor=owner, payload={"i": i})
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert audit_verify_organization(org) == (13, None)
