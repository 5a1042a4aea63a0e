"""Issue 22: a date range is read as a seq range (selectors.date_seq_bounds) from the time-order
bound every append keeps in the chain-head row (migration 0010; a trigger before); the result
is exactly the events of those days even when event times run behind the chain order (stamped
before the chain lock), and the REST list pages by keyset (``before`` / ``next_before``)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from apps.audit import services as audit_services
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.selectors import AuditFilters, audit_events, audit_page, date_seq_bounds
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def _at(day: date, hh: int, mm: int, ss: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


def _fresh_org(people):
    """An organization without events (organization_create audits; the ORM create does not),
    so the lag measured is only that of the stamps below."""
    from apps.accounts.models import Organization

    return Organization.objects.create(name="Fresh", slug="fresh", created_by=people.owner)


def _append_stamped(org, actor, stamps, monkeypatch, event_type="organization.updated"):
    """Append one event per stamp, in this order (so in seq order), each stamped as given."""
    for n, stamp in enumerate(stamps):
        monkeypatch.setattr(audit_services.timezone, "now", lambda stamp=stamp: stamp)
        audit_record(organization=org, event_type=event_type, actor=actor, payload={"n": n})
    monkeypatch.undo()


def test_date_range_is_exact_when_event_times_run_behind_chain_order(people, settings, monkeypatch):
    settings.TIME_ZONE = "UTC"
    org = _fresh_org(people)
    stamps = [_at(DAY1, 9, 0, 0), _at(DAY1, 23, 59, 50), _at(DAY2, 0, 0, 5),
              _at(DAY1, 23, 59, 58),  # stamped before the previous one, appended after it: 7 s behind
              _at(DAY2, 0, 0, 1), _at(DAY2, 12, 0, 0), _at(DAY2, 23, 59, 59), _at(DAY2 + timedelta(days=1), 0, 0, 3)]
    _append_stamped(org, people.owner, stamps, monkeypatch)
    order = AuditChainHead.objects.get(organization=org)
    assert (order.max_lag, order.max_created_at) == (timedelta(seconds=7), stamps[-1])
    ours = {e.seq: e.created_at for e in AuditEvent.objects.filter(organization=org)}

    for date_from, date_to in ((DAY1, DAY1), (DAY2, DAY2), (DAY1, DAY2), (DAY2, None), (None, DAY1)):
        start = datetime.combine(date_from, datetime.min.time(), tzinfo=UTC) if date_from else None
        end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=UTC) if date_to else None
        expected = sorted((seq for seq, at in ours.items()
                           if (start is None or at >= start) and (end is None or at < end)), reverse=True)
        filters = AuditFilters(date_from=date_from, date_to=date_to)
        got = [e.seq for e in audit_events(org, filters) if e.seq in ours]
        assert got == expected, (date_from, date_to)
        assert [e.seq for e in audit_page(org, filters, None) if e.seq in ours] == expected

    # day 1 has the late event (seq 4 of ours): a bound that ignored the lag would stop at seq 3
    day1 = [e.seq for e in audit_events(org, AuditFilters(date_from=DAY1, date_to=DAY1)) if e.seq in ours]
    assert len(day1) == 3 and max(day1) == min(ours) + 3


def test_seq_bounds_narrow_the_range_to_about_its_events(people, settings, monkeypatch):
    settings.TIME_ZONE = "UTC"
    org = _fresh_org(people)
    base = _at(DAY1, 0, 0, 0)
    _append_stamped(org, people.owner, [base + timedelta(hours=h) for h in range(0, 72, 2)], monkeypatch)
    seqs = dict(AuditEvent.objects.filter(organization=org).values_list("created_at", "seq"))
    above, below = date_seq_bounds(org, _at(DAY2, 0, 0, 0), _at(DAY2 + timedelta(days=1), 0, 0, 0))
    assert above == seqs[_at(DAY1, 22, 0, 0)] and below == seqs[_at(DAY2 + timedelta(days=1), 0, 0, 0)]
    assert date_seq_bounds(org, _at(DAY1.replace(year=2020), 0, 0, 0), None)[0] is None


def test_time_order_row_is_kept_for_every_writer(people, monkeypatch):
    from apps.audit.services import audit_prepare, audit_write_many

    org = people.org
    monkeypatch.setattr(audit_services.timezone, "now", lambda: _at(DAY2, 12, 0, 0))
    first = audit_prepare(organization=org, event_type="organization.updated", actor=people.owner)
    monkeypatch.setattr(audit_services.timezone, "now", lambda: _at(DAY2, 11, 59, 30))
    second = audit_prepare(organization=org, event_type="organization.updated", actor=people.owner)
    monkeypatch.undo()
    before = AuditChainHead.objects.get(organization=org)
    audit_write_many([first, second])  # the gateway's batched writer: 30 s behind within the batch
    after = AuditChainHead.objects.get(organization=org)
    assert after.max_created_at == max(before.max_created_at, _at(DAY2, 12, 0, 0))
    assert after.max_lag >= max(before.max_lag, before.max_created_at - _at(DAY2, 11, 59, 30), timedelta(seconds=30))


def test_rest_list_pages_by_keyset(people, api_for):
    from apps.audit.services import audit_prepare, audit_write_many

    audit_write_many([audit_prepare(organization=people.org, event_type="organization.updated", actor=people.owner,
                                    payload={"n": n}) for n in range(25)])
    client = api_for(people.reviewer)
    url = f"/api/v1/organizations/{people.org.slug}/audit-events/"
    first = client.get(url, {"limit": "10", "event_type": "organization.updated"}).json()
    assert len(first["results"]) == 10 and first["next_before"] == first["results"][-1]["seq"]
    second = client.get(url, {"limit": "10", "event_type": "organization.updated",
                              "before": str(first["next_before"])}).json()
    assert [r["seq"] for r in second["results"]] == [s - 10 for s in (r["seq"] for r in first["results"])]
    third = client.get(url, {"limit": "10", "event_type": "organization.updated",
                             "before": str(second["next_before"])}).json()
    assert len(third["results"]) == 5 and third["next_before"] is None and third["count"] == 5
    bad = client.get(url, {"before": "abc"})
    assert bad.status_code == 400 and "before" in bad.json()["detail"]


def test_actor_alternatives_are_listed_and_counted_once(people, api_for):
    """The actor filter is the person's label, or a token's exact name, or its mcpf_ prefix:
    one seq-ordered scan per alternative, merged; an event matching several is there once."""
    from apps.accounts.models import ApiToken
    from apps.audit.services import audit_prepare, audit_write_many

    org = people.org
    ApiToken.objects.create(organization=org, user=people.member, name="ci-bot", prefix="mcpf_Zz99Yy",
                            digest="0" * 64)
    token = {"token_name": "ci-bot", "token_prefix": "mcpf_Zz99Yy"}
    audit_write_many([
        audit_prepare(organization=org, event_type="tool.called", actor=people.member, payload=token),
        audit_prepare(organization=org, event_type="tool.called", actor=people.member,
                      payload={"token_name": "member@acme.test", "token_prefix": "mcpf_Zz99Yy"}),  # all three
        audit_prepare(organization=org, event_type="tool.call_completed", actor=people.member, payload=token),
        audit_prepare(organization=org, event_type="tool.called", actor=people.owner, payload={"token_name": "x"}),
    ])
    client = api_for(people.reviewer)
    url = f"/api/v1/organizations/{org.slug}/audit-events/"

    def seqs(**query):
        body = client.get(url, query).json()
        listed = [r["seq"] for r in body["results"]]
        assert body["count"] == len(listed) and listed == sorted(listed, reverse=True)
        return listed

    member = seqs(actor="member@acme.test", event_type="tool.")
    assert len(member) == len(set(member)) == 3
    assert seqs(actor="ci-bot") == seqs(actor="ci-bot", event_type="tool.")
    assert len(seqs(actor="ci-bot")) == 2
    assert len(seqs(actor="mcpf_Zz99")) == 3  # by prefix: both tokens' events with it
    assert len(seqs(actor="mcpf_Zz99", event_type="tool.called")) == 2
    assert seqs(actor="nobody") == []
    ApiToken.objects.filter(name="ci-bot").delete()  # a token since deleted: found by the payload prefix
    assert len(seqs(actor="mcpf_Zz99")) == 3
