"""Tampering by someone with write access to the database but without AUDIT_CHAIN_KEY: each
scenario of issue 17 (item 5) is found by audit_verify, and TRUNCATE is refused outright.

The attacker works as the table owner would: triggers switched off (session_replication_role
= replica skips every ordinary trigger, the append-only ones included), rows deleted,
rewritten or renumbered, hashes recomputed with the public SHA-256 of the legacy scheme, the
head row rewound to match. What the chain cannot show by itself, the signed checkpoints do.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import InternalError, connection, transaction
from django.db.utils import ProgrammingError
from django.test.utils import CaptureQueriesContext

from apps.audit import chain, keys
from apps.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from apps.audit.services import (
    ChainBroken,
    audit_checkpoint_all,
    audit_checkpoint_create,
    audit_record,
    audit_verify_organization,
)
from tests.audit.test_append import make_writer


@pytest.fixture
def w(db):
    writer = make_writer("tamper@acme.test")
    for n in range(1, 6):  # 6 events: organization.created + 5
        audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner,
                     payload={"n": n})
    return writer


def _as_attacker(*statements: tuple[str, list]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending: TRUNCATE may run
        cursor.execute("SET session_replication_role = replica")
        try:
            for sql, params in statements:
                cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def _rewind_head(org, seq: int) -> tuple[str, list]:
    """The head row set to what the remaining chain ends with, as a careful attacker would."""
    last = AuditEvent.objects.filter(organization=org, seq=seq).values_list("hash", flat=True).first()
    return ("UPDATE audit_chainhead SET seq = %s, hash = %s WHERE organization_id = %s",
            [seq, last or chain.GENESIS, org.pk])


def _verify_cmd(org, *extra) -> tuple[int, str]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("audit_verify", "--org", org.slug, *extra, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def _public_rechain(org, *, from_seq: int) -> list[tuple[str, list]]:
    """Recompute every hash from ``from_seq`` on with the public (unkeyed) function, relinking
    prev_hash, and mark the rows legacy: all an attacker without the key can do."""
    statements = []
    events = list(AuditEvent.objects.filter(organization=org).order_by("seq"))
    prev = chain.GENESIS
    for event in events:
        if event.seq >= from_seq:
            event.prev_hash = prev
            event.hash = chain.event_hash(event.chain_content(), prev)
            statements.append(("UPDATE audit_auditevent SET prev_hash = %s, hash = %s, chain_version = 1 "
                               "WHERE id = %s", [event.prev_hash, event.hash, event.pk]))
        prev = event.hash
    statements.append(("UPDATE audit_chainhead SET seq = %s, hash = %s WHERE organization_id = %s",
                       [events[-1].seq, prev, org.pk]))
    return statements


# --- the untouched chain ----------------------------------------------------------------------

def test_an_untouched_chain_verifies_with_its_checkpoints(w):
    audit_checkpoint_create(organization=w.org)
    audit_record(organization=w.org, event_type="organization.updated", actor=w.owner)
    assert audit_verify_organization(w.org) == (7, None)
    assert _verify_cmd(w.org) == (0, f"{w.org.slug}: OK (7 events)\n")
    assert set(AuditEvent.objects.filter(organization=w.org).values_list("chain_version", flat=True)) == {2}


def test_the_hash_is_keyed_not_public(w):
    event = AuditEvent.objects.get(organization=w.org, seq=3)
    assert event.hash != chain.event_hash(event.chain_content(), event.prev_hash)
    assert event.hash == chain.event_hash(event.chain_content(), event.prev_hash, keys.org_key(w.org.pk))


# --- a cut tail -------------------------------------------------------------------------------

def test_cut_tail_with_head_rewound_is_found_by_the_checkpoint(w):
    audit_checkpoint_create(organization=w.org)
    _as_attacker(("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq > 4", [w.org.pk]),
                 _rewind_head(w.org, 4))
    checked, brk = audit_verify_organization(w.org)
    assert brk is not None and brk.seq == 6 and "events removed from the end" in brk.reason
    code, out = _verify_cmd(w.org)
    assert code == 1 and "BROKEN at event #6" in out


def test_cut_tail_without_touching_the_head_is_found_by_the_head_row(w):
    _as_attacker(("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq > 4", [w.org.pk]))
    checked, brk = audit_verify_organization(w.org)
    assert checked == 4 and "head row says #6" in brk.reason


def test_cut_tail_is_found_in_an_incremental_run_too(w):
    audit_checkpoint_create(organization=w.org)
    _as_attacker(("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq > 2", [w.org.pk]),
                 _rewind_head(w.org, 2))
    assert "is gone (events removed)" in audit_verify_organization(w.org, incremental=True)[1].reason


# --- a rewritten row --------------------------------------------------------------------------

def test_rewritten_row_with_its_hash_recomputed_publicly(w):
    victim = AuditEvent.objects.get(organization=w.org, seq=3)
    victim.payload = {"n": 999}
    forged = chain.event_hash(victim.chain_content(), victim.prev_hash)  # the public function
    _as_attacker(("UPDATE audit_auditevent SET payload = %s, hash = %s WHERE id = %s",
                  [json.dumps(victim.payload), forged, victim.pk]))
    checked, brk = audit_verify_organization(w.org)
    assert (checked, brk.seq) == (3, 3) and "row was modified" in brk.reason


def test_rewritten_row_and_whole_chain_relinked_publicly(w):
    """Every later hash recomputed and relinked, rows marked legacy, head updated: no break
    inside the chain the attacker rebuilt from the start, so only the checkpoint shows it."""
    audit_checkpoint_create(organization=w.org)
    _as_attacker(("UPDATE audit_auditevent SET payload = '{\"n\": 999}' WHERE organization_id = %s AND seq = 3",
                  [w.org.pk]))
    _as_attacker(*_public_rechain(w.org, from_seq=1))
    checked, brk = audit_verify_organization(w.org)
    assert brk is not None and brk.seq == 6 and "differs from the checkpoint" in brk.reason
    # without any checkpoint the same forgery would pass: that is what checkpoints are for
    assert AuditCheckpoint.objects.filter(organization=w.org).count() == 1


def test_rewritten_row_relinked_from_the_middle(w):
    _as_attacker(("UPDATE audit_auditevent SET payload = '{\"n\": 999}' WHERE organization_id = %s AND seq = 3",
                  [w.org.pk]))
    _as_attacker(*_public_rechain(w.org, from_seq=3))
    checked, brk = audit_verify_organization(w.org)
    assert brk.seq == 3 and "only keyed events may follow" in brk.reason


def test_a_checkpoint_is_never_signed_over_a_broken_chain(w):
    _as_attacker(("UPDATE audit_auditevent SET payload = '{\"n\": 0}' WHERE organization_id = %s AND seq = 2",
                  [w.org.pk]))
    with pytest.raises(ChainBroken, match="#2"):
        audit_checkpoint_create(organization=w.org)
    assert not AuditCheckpoint.objects.filter(organization=w.org).exists()
    assert audit_checkpoint_all()["broken"] == 1


# --- TRUNCATE ---------------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["audit_auditevent", "audit_chainhead", "audit_auditcheckpoint"])
def test_truncate_is_refused(w, table):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises((InternalError, ProgrammingError)) as err, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table} CASCADE")
    assert "TRUNCATE rejected" in str(err.value)
    assert AuditEvent.objects.filter(organization=w.org).count() == 6


def test_truncate_with_triggers_off_is_found(w):
    audit_checkpoint_create(organization=w.org)
    _as_attacker(("TRUNCATE audit_auditevent", []))
    brk = audit_verify_organization(w.org)[1]
    assert brk is not None and "events removed from the end" in brk.reason


def test_truncate_of_events_and_heads_is_found_by_the_checkpoint(w):
    audit_checkpoint_create(organization=w.org)
    _as_attacker(("TRUNCATE audit_auditevent, audit_chainhead", []))
    assert "checkpoint" in audit_verify_organization(w.org)[1].reason


# --- a deleted middle row, a reordering -------------------------------------------------------

def test_deleted_middle_row(w):
    _as_attacker(("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq = 3", [w.org.pk]))
    checked, brk = audit_verify_organization(w.org)
    assert brk.seq == 4 and "sequence gap" in brk.reason


def test_deleted_middle_row_renumbered_and_relinked(w):
    _as_attacker(("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq = 3", [w.org.pk]),
                 ("UPDATE audit_auditevent SET seq = seq - 1 WHERE organization_id = %s AND seq > 3", [w.org.pk]))
    _as_attacker(*_public_rechain(w.org, from_seq=3))
    brk = audit_verify_organization(w.org)[1]
    assert brk.seq == 3 and brk.reason


def test_reordered_rows(w):
    _as_attacker(("UPDATE audit_auditevent SET seq = -seq WHERE organization_id = %s AND seq IN (3, 4)", [w.org.pk]),
                 ("UPDATE audit_auditevent SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END "
                  "WHERE organization_id = %s AND seq IN (-3, -4)", [w.org.pk]))
    brk = audit_verify_organization(w.org)[1]
    assert brk.seq == 3 and brk.reason


# --- the checkpoints themselves ---------------------------------------------------------------

def test_a_forged_checkpoint_is_a_break(w):
    head = AuditChainHead.objects.get(organization=w.org)
    from django.utils import timezone

    now = timezone.now()
    AuditCheckpoint.objects.create(organization=w.org, seq=head.seq, hash=head.hash, created_at=now,
                                   mac=hashlib.sha256(b"no key").hexdigest())
    assert "wrong signature" in audit_verify_organization(w.org)[1].reason


def test_checkpoints_are_append_only(w):
    checkpoint = audit_checkpoint_create(organization=w.org)
    for sql in ("UPDATE audit_auditcheckpoint SET seq = 1 WHERE id = %s",
                "DELETE FROM audit_auditcheckpoint WHERE id = %s"):
        with pytest.raises((InternalError, ProgrammingError)) as err, transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [checkpoint.pk])
        assert "append-only" in str(err.value)


def test_exported_checkpoints_catch_a_cut_tail_whose_stored_checkpoints_were_deleted(w, tmp_path):
    call_command("audit_checkpoint", "--org", w.org.slug, stdout=open("/dev/null", "w"))  # noqa: SIM115
    export = tmp_path / "checkpoints.jsonl"
    call_command("audit_checkpoint", "--export", str(export), stderr=open("/dev/null", "w"))  # noqa: SIM115
    line = json.loads(export.read_text().splitlines()[-1])
    assert (line["organization_slug"], line["seq"]) == (w.org.slug, 6) and len(line["mac"]) == 64
    _as_attacker(("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq > 3", [w.org.pk]),
                 ("DELETE FROM audit_auditcheckpoint WHERE organization_id = %s", [w.org.pk]),
                 _rewind_head(w.org, 3))
    assert _verify_cmd(w.org) == (0, f"{w.org.slug}: OK (3 events)\n")  # what the database alone shows
    code, out = _verify_cmd(w.org, "--checkpoints", str(export))
    assert code == 1 and "events removed from the end" in out


def test_an_unreadable_checkpoint_file_is_a_clear_error(w, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": "six"}\n')
    with pytest.raises(CommandError, match="line 1: not an exported checkpoint"):
        call_command("audit_verify", "--checkpoints", str(bad))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("audit_verify", "--checkpoints", str(tmp_path / "missing.jsonl"))


def test_checkpoint_only_when_the_head_moved(w):
    first = audit_checkpoint_create(organization=w.org)
    assert first.seq == 6 and audit_checkpoint_create(organization=w.org) is None
    audit_record(organization=w.org, event_type="organization.updated", actor=w.owner)
    assert audit_checkpoint_create(organization=w.org).seq == 7


def test_incremental_run_checks_only_events_after_the_newest_checkpoint(w):
    audit_checkpoint_create(organization=w.org)
    audit_record(organization=w.org, event_type="organization.updated", actor=w.owner)
    assert audit_verify_organization(w.org, incremental=True) == (1, None)
    # a row after the checkpoint, rewritten: found
    _as_attacker(("UPDATE audit_auditevent SET payload = '{\"x\": 1}' WHERE organization_id = %s AND seq = 7",
                  [w.org.pk]))
    assert audit_verify_organization(w.org, incremental=True)[1].seq == 7


def test_a_different_key_fails_verification(w, settings):
    settings.AUDIT_CHAIN_KEY = "A" * 43 + "="
    brk = audit_verify_organization(w.org)[1]
    assert brk.seq == 1 and "row was modified" in brk.reason


def test_the_periodic_checkpoint_is_scheduled_and_runs(w):
    import apps.audit.tasks  # noqa: F401 (what the worker's autodiscovery imports)
    from mcpforge.celery import app

    entry = app.conf.beat_schedule["audit-checkpoints"]
    assert entry["task"] == "apps.audit.tasks.checkpoint_audit_chains" and entry["task"] in app.tasks
    from apps.audit.tasks import checkpoint_audit_chains

    assert checkpoint_audit_chains.apply().get()["created"] >= 1
    assert AuditCheckpoint.objects.filter(organization=w.org, seq=6).exists()


def test_a_missing_key_stops_the_system_check(settings):
    from apps.audit.checks import audit_key_check

    settings.AUDIT_CHAIN_KEY = ""
    settings.AUDIT_DEV_CHAIN_KEY_FILE = ""
    errors = audit_key_check()
    assert [e.id for e in errors] == ["audit.E001"] and "AUDIT_CHAIN_KEY is not set" in errors[0].msg
    settings.AUDIT_CHAIN_KEY = "c2hvcnQ="
    assert "32 bytes" in audit_key_check()[0].msg


def test_an_append_without_the_key_is_refused(w):
    from apps.audit.services import APPEND_SQL, audit_prepare

    pending = audit_prepare(organization=w.org, event_type="organization.updated", actor=w.owner)
    params = [*pending.params[:-1], None]
    with pytest.raises(Exception, match="audit chain key missing") as err, transaction.atomic():  # noqa: B017
        with connection.cursor() as cursor:
            cursor.execute(APPEND_SQL, params)
    assert "key" in str(err.value)
    assert AuditEvent.objects.filter(organization=w.org).count() == 6


# --- the audit page at scale ------------------------------------------------------------------

@pytest.mark.django_db
def test_the_audit_page_never_counts_and_pages_by_seq(people, client_for):
    """At millions of events a count reads thousands of rows per view and OFFSET reads every
    skipped row: the page reads its 50 rows plus one (is there an older page?) below a seq
    (``?before=``), shows Newest/Older links, and refuses a bad ``before`` with a message."""
    from django.urls import reverse

    from apps.audit.services import audit_prepare, audit_write_many

    audit_write_many([audit_prepare(organization=people.org, event_type="organization.updated", actor=people.owner,
                                    payload={"n": n}) for n in range(120)])
    url = reverse("audit:log", args=[people.org.slug])
    client = client_for(people.owner)
    with CaptureQueriesContext(connection) as ctx:
        first = client.get(url)
    body = first.content.decode()
    rows = first.context["page"].object_list
    assert first.status_code == 200 and len(rows) == 50 and f"before={rows[-1].seq}" in body
    assert "Newest" not in body
    audit_sql = [q["sql"] for q in ctx.captured_queries if "audit_auditevent" in q["sql"]]
    assert audit_sql and not any("COUNT(" in sql.upper() or "OFFSET" in sql.upper() for sql in audit_sql)
    assert any("LIMIT 51" in sql for sql in audit_sql)
    second = client.get(url, {"before": rows[-1].seq})
    older = second.context["page"].object_list
    assert [e.seq for e in older] == list(range(rows[-1].seq - 1, rows[-1].seq - 51, -1))
    assert "Newest" in second.content.decode()
    seen, before = [*rows, *older], older[-1].seq
    while before:
        page = client.get(url, {"before": before}).context["page"]
        seen += page.object_list
        before = page.older_than
    assert [e.seq for e in seen] == sorted((e.seq for e in seen), reverse=True)
    assert len(seen) == AuditEvent.objects.filter(organization=people.org).count() > 120
    small = client.get(url, {"event_type": "team.created"})
    assert small.status_code == 200 and "before=" not in small.content.decode()
    bad = client.get(url, {"before": "x1"})
    assert bad.status_code == 400 and "before must be a whole number" in bad.content.decode()


@pytest.mark.django_db
def test_actor_and_object_filters_match_exactly_and_the_list_links_them(people, client_for):
    """Actor and object filters are equalities (an index scan in seq order at any size), not
    substrings; each listed actor and object links to its filter."""
    from urllib.parse import quote

    from django.urls import reverse

    from apps.audit.services import audit_record

    event = audit_record(organization=people.org, event_type="organization.updated", actor=people.owner,
                         target=people.org, payload={"n": 1})
    url = reverse("audit:log", args=[people.org.slug])
    client = client_for(people.owner)
    exact = client.get(url, {"actor": "owner@acme.test"}).context["page"].object_list
    assert exact and all(e.actor_label == "owner@acme.test" for e in exact)
    assert list(client.get(url, {"actor": "owner"}).context["page"].object_list) == []
    by_object = client.get(url, {"target": event.target_id}).context["page"].object_list
    assert by_object and all(e.target_id == event.target_id for e in by_object)
    assert list(client.get(url, {"target": people.org.name[:3]}).context["page"].object_list) == []
    body = client.get(url).content.decode()
    assert f'href="?actor={quote("owner@acme.test", safe="")}"' in body
    assert f'href="?target={event.target_id}"' in body


@pytest.mark.django_db
def test_rest_list_count_is_bounded(people, api_for, monkeypatch):
    """The REST list counts matches only up to max(COUNT_CAP, offset + limit + 1) and says so
    (count_capped); its next link stays right past the bound."""
    from apps.audit.api import BoundedCountPagination
    from apps.audit.services import audit_prepare, audit_write_many

    monkeypatch.setattr(BoundedCountPagination, "COUNT_CAP", 20)
    audit_write_many([audit_prepare(organization=people.org, event_type="organization.updated", actor=people.owner,
                                    payload={"n": n}) for n in range(40)])
    client = api_for(people.reviewer)
    url = f"/api/v1/organizations/{people.org.slug}/audit-events/"
    first = client.get(url, {"limit": "10"}).json()
    assert (first["count"], first["count_capped"], len(first["results"])) == (20, True, 10) and first["next"]
    deep = client.get(url, {"limit": "10", "offset": "30"}).json()
    assert deep["count_capped"] is True and deep["count"] == 41 and deep["next"]
    small = client.get(url, {"event_type": "organization.created"}).json()
    assert (small["count"], small["count_capped"], small["next"]) == (1, False, None)


@pytest.mark.django_db(transaction=True)
def test_events_appended_during_verification_are_not_tampering(monkeypatch):
    """audit_verify reads head, checkpoints and events in one snapshot: an event appended by
    another connection while it walks (a live system) is not a head that disagrees."""
    import threading

    from django.db import connections

    from apps.audit import services

    writer = make_writer("live@acme.test")
    audit_checkpoint_create(organization=writer.org)
    original = services._links

    def links_with_a_concurrent_append(*args):
        def append():
            try:
                audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner)
            finally:
                connections.close_all()

        thread = threading.Thread(target=append)
        thread.start()
        thread.join()
        yield from original(*args)

    monkeypatch.setattr(services, "_links", links_with_a_concurrent_append)
    assert audit_verify_organization(writer.org) == (1, None)
    assert audit_checkpoint_create(organization=writer.org).seq == 2  # appended meanwhile, verified now
    monkeypatch.undo()
    assert audit_verify_organization(writer.org) == (3, None)


@pytest.mark.django_db
def test_a_type_prefix_pages_through_every_matching_type_newest_first(people, client_for):
    """A prefix ("approval.") is merged from one seq-ordered scan per type: the pages hold
    exactly the matching events, newest first, none twice, none missing."""
    from django.urls import reverse

    from apps.audit.services import audit_prepare, audit_write_many

    kinds = ["approval.requested", "approval.decided", "organization.updated"]
    audit_write_many([audit_prepare(organization=people.org, event_type=kinds[n % 3], actor=people.owner,
                                    payload={"n": n}) for n in range(240)])
    expected = list(AuditEvent.objects.filter(organization=people.org, event_type__startswith="approval.")
                    .order_by("-seq").values_list("seq", flat=True))
    url = reverse("audit:log", args=[people.org.slug])
    client = client_for(people.owner)
    seen, before = [], None
    while True:
        page = client.get(url, {"event_type": "approval."} | ({"before": before} if before else {})).context["page"]
        seen += [e.seq for e in page.object_list]
        before = page.older_than
        if not before:
            break
    assert len(expected) == 160 and seen == expected
