"""Checklist verdicts come from the snapshot alone (pure)."""

from apps.reports import checklist


def snapshot(**overrides):
    data = {
        "generated_at": "2026-01-31T10:00:00+00:00", "generated_by": "owner@acme.test",
        "spec": {"number": 3},
        "score": {"value": 71},
        "project": {"owner_contact": "payments-team@acme.test", "rollback_procedure": "Disable the tools.",
                    "incident_response_plan": "Page the on-call."},
        "tools": [{"name": "refundPayment", "category": "billing", "risk_level": "critical"},
                  {"name": "getPayment", "category": "read_only", "risk_level": "low"}],
        "findings": [{"code": "x"}],
        "governance": {
            "approvals": {"policies": [{"name": "Billing"}], "uncovered_high_risk": []},
            "credentials": {"configured": True, "missing": [], "statement": ""},
            "audit": {"environments": [{"name": "production"}], "events_in_window": 12, "window_days": 30,
                      "chain_intact": True, "chain": "chain re-verified while generating this report: intact"},
        },
    }
    data.update(overrides)
    return data


def statuses(data):
    result = checklist.build(data)
    return ({i["key"]: i["status"] for i in result["governance"]},
            {i["key"]: i["status"] for i in result["documentation"]})


def test_a_fully_governed_project_is_all_done():
    gov, docs = statuses(snapshot())
    assert set(gov.values()) == {"done"} and set(docs.values()) == {"done"}
    assert list(gov) == ["inventory", "classification", "risk_scoring", "approval_workflows", "credential_storage",
                         "audit_logging", "security_review", "rollback", "incident_response", "ownership"]
    assert list(docs) == ["architecture_diagram", "data_flow_diagram", "credential_flows", "risk_assessment"]


def test_project_facts_missing():
    data = snapshot(project={"owner_contact": "", "rollback_procedure": " ", "incident_response_plan": ""})
    gov, _ = statuses(data)
    assert gov["rollback"] == gov["incident_response"] == gov["ownership"] == "missing"
    items = {i["key"]: i for i in checklist.build(data)["governance"]}
    assert "project settings" in items["rollback"]["evidence"] and items["rollback"]["anchor"] == ""


def test_uncovered_high_risk_tools_make_approvals_missing():
    data = snapshot()
    data["governance"]["approvals"]["uncovered_high_risk"] = ["refundPayment"]
    items = {i["key"]: i for i in checklist.build(data)["governance"]}
    assert items["approval_workflows"]["status"] == "missing"
    assert "refundPayment" in items["approval_workflows"]["evidence"]


def test_no_policies_no_credentials_broken_audit_chain():
    data = snapshot()
    broken = "CHAIN BROKEN at event #7: hash mismatch"
    data["governance"] = {"approvals": {"policies": [], "uncovered_high_risk": []},
                          "credentials": {"configured": False, "missing": ["production: ApiKeyAuth"]},
                          "audit": {"environments": [{"name": "production"}], "chain_intact": False, "chain": broken}}
    items = {i["key"]: i for i in checklist.build(data)["governance"]}
    assert items["approval_workflows"]["evidence"] == "No approval policy is defined."
    assert "production: ApiKeyAuth" in items["credential_storage"]["evidence"]
    assert items["audit_logging"]["status"] == "missing"
    assert items["audit_logging"]["evidence"] == f"The audit log's hash chain is broken: {broken}."


def test_audit_logging_is_met_when_the_chain_is_intact_or_too_long_to_re_verify():
    for intact in (True, None):
        data = snapshot()
        data["governance"]["audit"]["chain_intact"] = intact
        item = {i["key"]: i for i in checklist.build(data)["governance"]}["audit_logging"]
        assert item["status"] != "missing"
        assert item["evidence"].startswith("Every call audited in the one environment (auditing cannot be turned off)")


def test_unclassified_tools_and_missing_score():
    data = snapshot(score={"value": None})
    data["tools"].append({"name": "mystery", "category": "", "risk_level": ""})
    gov, docs = statuses(data)
    assert gov["classification"] == gov["risk_scoring"] == docs["risk_assessment"] == "missing"


def test_no_spec_at_all():
    gov, _ = statuses(snapshot(spec=None, tools=[], findings=[]))
    assert gov["inventory"] == gov["classification"] == gov["security_review"] == "missing"
