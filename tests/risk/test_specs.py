"""The classifier against the real specs in the shared specs folder.

Specs folder: ``<repo>/../shared/specs`` or ``$MCPFORGE_SPECS_DIR``.  Tools are looked up by
operation key ("METHOD /path") so the assertions do not depend on tool naming.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path

import pytest

from apps.risk import rules
from apps.risk.classify import Classification, classify_tools
from apps.risk.report import scan_result
from apps.specs.domain import ToolDef

SPECS_DIR = Path(os.environ.get("MCPFORGE_SPECS_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "specs"))
SPEC_FILES = (
    sorted(p.name for p in SPECS_DIR.glob("*") if p.suffix in (".json", ".yaml", ".yml")) if SPECS_DIR.is_dir() else []
)

pytestmark = pytest.mark.skipif(not SPEC_FILES, reason=f"no specs in {SPECS_DIR}")


@cache
def load(filename: str):
    from apps.inventory.toolgen import build_tools
    from apps.specs.parse import load_document

    parsed = load_document((SPECS_DIR / filename).read_bytes(), filename=filename)
    tools = build_tools(parsed)
    return parsed, tools, classify_tools(tools, document=parsed.document)


def by_key(filename: str) -> dict[str, tuple[ToolDef, Classification]]:
    _, tools, cls = load(filename)
    return {t.operation_key: (t, cls[t.name]) for t in tools}


def get(filename: str, key: str) -> Classification:
    table = by_key(filename)
    assert key in table, f"{key} not in {filename}"
    return table[key][1]


def has_spec(name: str) -> bool:
    return name in SPEC_FILES


def needs(name: str):
    return pytest.mark.skipif(not has_spec(name), reason=f"{name} not in {SPECS_DIR}")


# ---------------------------------------------------------------------------
# Named operations
# ---------------------------------------------------------------------------

ADYEN = "adyen-checkout-v71.json"
BOX = "box.json"
PETSTORE2 = "petstore-expanded-v2.json"
PETSTORE3 = "petstore-v3.yaml"
TWILIO = "twilio-api-v2010.json"
TICTACTOE = "tictactoe-v3.1.yaml"


@needs(ADYEN)
@pytest.mark.parametrize(
    "key",
    [
        "POST /payments/{paymentPspReference}/refunds",
        "POST /payments/{paymentPspReference}/captures",
        "POST /payments/{paymentPspReference}/reversals",
        "POST /payments/{paymentPspReference}/cancels",
        "POST /cancels",
    ],
)
def test_adyen_refunds_captures_cancels_are_billing_and_critical(key):
    c = get(ADYEN, key)
    assert c.category == "billing"
    assert "critical" in c.tags
    assert c.side_effect and c.destructive
    assert c.risk_level == "critical"


@needs(ADYEN)
def test_adyen_payments_and_donations_move_money():
    for key in ("POST /payments", "POST /donations"):
        c = get(ADYEN, key)
        assert c.category == "billing" and c.money_movement and c.risk_level == "critical", key


@needs(ADYEN)
@pytest.mark.parametrize(
    "key", ["POST /paymentMethods", "POST /paymentMethods/balance", "POST /cardDetails", "POST /donationCampaigns"]
)
def test_adyen_post_lookups_are_read_only_billing(key):
    c = get(ADYEN, key)
    assert c.category == "read_only", c.reasons
    assert "billing" in c.tags and c.risk_level != "low"


@needs(ADYEN)
def test_adyen_session_creation_and_order_cancel_are_billing_writes():
    assert get(ADYEN, "POST /sessions").category == "billing"
    cancel = get(ADYEN, "POST /orders/cancel")
    assert cancel.category == "billing" and "critical" in cancel.tags
    # deleting a stored card token moves no money: destructive, not a billing write (issue 19)
    token = get(ADYEN, "DELETE /storedPaymentMethods/{storedPaymentMethodId}")
    assert token.category != "billing" and "critical" in token.categories and "billing" in token.tags


@needs(BOX)
@pytest.mark.parametrize(
    "key",
    [
        "POST /users",
        "PUT /users/{user_id}",
        "DELETE /users/{user_id}",
        "POST /users/terminate_sessions",
        "POST /invites",
        "POST /group_memberships",
        "POST /legal_hold_policies",
        "PUT /legal_hold_policies/{legal_hold_policy_id}",
        "DELETE /legal_hold_policies/{legal_hold_policy_id}",
        "POST /legal_hold_policy_assignments",
        "DELETE /legal_hold_policy_assignments/{legal_hold_policy_assignment_id}",
        "POST /retention_policies",
        "POST /webhooks",
        "POST /collaborations",
        "POST /oauth2/revoke",
        "POST /shield_information_barriers",
    ],
)
def test_box_user_and_legal_hold_management_is_administrative(key):
    c = get(BOX, key)
    assert c.category == "administrative", c.reasons
    assert c.side_effect and c.risk_level in ("high", "critical")


@needs(BOX)
def test_box_reads_of_admin_data_are_read_only_but_not_low():
    for key in ("GET /users", "GET /legal_hold_policies", "GET /webhooks"):
        c = get(BOX, key)
        assert c.category == "read_only" and "administrative" in c.tags and c.risk_level != "low", key


@needs(BOX)
def test_box_destructive_and_read_only_posts():
    assert get(BOX, "DELETE /files/{file_id}").category == "critical"
    assert get(BOX, "DELETE /users/{user_id}").risk_level == "critical"
    assert get(BOX, "POST /metadata_queries/execute_read").category == "read_only"
    assert get(BOX, "GET /files/{file_id}/trash").category == "read_only"
    assert get(BOX, "POST /sign_requests/{sign_request_id}/cancel").destructive


@needs(PETSTORE2)
def test_petstore_v2_delete_pet_is_critical():
    c = get(PETSTORE2, "DELETE /pets/{id}")
    assert c.category == "critical" and c.destructive and c.risk_level in ("high", "critical")
    assert get(PETSTORE2, "GET /pets").category == "read_only"


@needs(PETSTORE3)
def test_petstore_v3_named_operations():
    assert get(PETSTORE3, "DELETE /pet/{petId}").category == "critical"
    logout = get(PETSTORE3, "GET /user/logout")
    assert logout.side_effect and logout.category != "read_only"
    assert logout.annotations["readOnlyHint"] is False
    assert get(PETSTORE3, "GET /user/login").side_effect
    assert get(PETSTORE3, "DELETE /user/{username}").category == "administrative"
    assert get(PETSTORE3, "GET /pet/findByStatus").category == "read_only"


@needs(TICTACTOE)
def test_tictactoe():
    assert get(TICTACTOE, "GET /board").category == "read_only"
    assert get(TICTACTOE, "PUT /board/{row}/{column}").category == "side_effect"


@needs(TWILIO)
def test_twilio_list_endpoints_are_read_only():
    lists = [(t, c) for t, c in by_key(TWILIO).values() if t.method == "GET" and t.operation_id.startswith("List")]
    assert len(lists) > 50
    for tool, c in lists:
        assert c.category == "read_only", (tool.operation_key, c.reasons)
        assert not c.side_effect


@needs(TWILIO)
def test_twilio_named_writes():
    assert get(TWILIO, "POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Payments.json").category == "billing"
    assert get(TWILIO, "POST /2010-04-01/Accounts/{AccountSid}/Keys.json").category == "administrative"
    assert get(TWILIO, "POST /2010-04-01/Accounts/{AccountSid}/Messages.json").open_world
    assert get(TWILIO, "GET /2010-04-01/Accounts/{AccountSid}/Balance.json").tags == {"billing"}


# ---------------------------------------------------------------------------
# Invariants across every spec
# ---------------------------------------------------------------------------

_DANGEROUS = re.compile(r"refund|capture|cancel|delete|remove|revoke|terminate|purge|payment", re.IGNORECASE)


@pytest.mark.parametrize("filename", SPEC_FILES)
def test_no_billing_administrative_or_critical_tool_is_ever_low(filename):
    _, tools, cls = load(filename)
    assert len(cls) == len(tools)
    for tool in tools:
        c = cls[tool.name]
        if c.categories & rules.SENSITIVE_CATEGORIES:
            assert c.risk_level != "low", (tool.operation_key, c)


@pytest.mark.parametrize("filename", SPEC_FILES)
def test_invariants(filename):
    _, tools, cls = load(filename)
    for tool in tools:
        c = cls[tool.name]
        assert c.category in rules.CATEGORIES
        assert 0 <= c.risk_score <= 100 and c.risk_level == rules.risk_level_for(c.risk_score)
        assert (c.category == "read_only") == (not c.side_effect)
        # readOnlyHint only for a safe HTTP method (issue 18): a POST that reads gets none
        assert c.annotations["readOnlyHint"] == (not c.side_effect and tool.method in ("GET", "HEAD", "OPTIONS"))
        if tool.method == "POST":
            assert c.annotations["readOnlyHint"] is False
        if tool.method in ("DELETE", "PUT", "PATCH"):
            assert c.side_effect and c.category != "read_only", tool.operation_key
        # a DELETE destroys, unless it takes an association away ("Remove a label from an issue")
        if tool.method == "DELETE" and not any("removes an association" in r for r in c.reasons):
            assert c.destructive and "critical" in c.categories
        if not c.side_effect and any(p["where"] == "response" for p in c.pii):
            assert c.risk_level != "low", tool.operation_key


@pytest.mark.parametrize("filename", SPEC_FILES)
def test_dangerous_writes_are_never_low(filename):
    """A write whose operationId or summary names a refund/capture/cancel/delete/revoke/payment."""
    _, tools, cls = load(filename)
    for tool in tools:
        c = cls[tool.name]
        if tool.method != "GET" and _DANGEROUS.search(f"{tool.operation_id} {tool.summary}") and c.side_effect:
            if any("removes an association" in r for r in c.reasons):  # issue 19: reversible removal
                assert c.risk_level != "low" and not c.destructive, tool.operation_key
                continue
            assert c.risk_level in ("high", "critical"), (tool.operation_key, c.reasons)


@pytest.mark.parametrize("filename", SPEC_FILES)
def test_scan_result_on_every_spec(filename):
    parsed, tools, _ = load(filename)
    result = scan_result(parsed, tools, quality=[])
    assert 0 <= result["score"] <= 100
    assert len(result["tools"]) == len(tools)
    json.dumps(result)
