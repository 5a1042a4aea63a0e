"""One test per classifier rule, on hand-built ToolDefs (no parser involved)."""

from __future__ import annotations

import pytest

from apps.risk import rules
from apps.risk.classify import Classification, classify_tool, classify_tools
from apps.specs.domain import Parameter

from .factories import make_tool, obj, query


def c(*args, **kwargs) -> Classification:
    return classify_tool(make_tool(*args, **kwargs))


def assert_never_low_if_sensitive(result: Classification) -> None:
    if result.categories & rules.SENSITIVE_CATEGORIES:
        assert result.risk_level != "low", result


# ---------------------------------------------------------------------------
# Method defaults
# ---------------------------------------------------------------------------


def test_plain_get_is_read_only_low():
    r = c("GET", "/pets", operation_id="listPets", summary="List pets")
    assert r.category == "read_only"
    assert not r.side_effect
    assert r.risk_level == "low"
    assert r.annotations["readOnlyHint"] is True
    assert r.annotations["destructiveHint"] is False
    assert r.annotations["idempotentHint"] is True
    assert r.annotations["title"] == "List pets"
    assert "GET method" in r.reasons


def test_plain_post_is_side_effect_medium():
    r = c("POST", "/pets", operation_id="addPet", summary="Add a pet", body=obj(name="string"))
    assert r.category == "side_effect"
    assert r.side_effect
    assert r.risk_level == "medium"
    assert r.annotations == {
        "title": "Add a pet",
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": False,
    }


def test_delete_is_critical_and_destructive():
    r = c("DELETE", "/pets/{id}", operation_id="deletePet", responses={"204": {"description": "gone"}})
    assert r.category == "critical"
    assert r.destructive and r.side_effect
    assert r.risk_level in ("high", "critical")
    assert r.annotations["destructiveHint"] is True
    assert r.annotations["idempotentHint"] is True
    assert "DELETE method" in r.reasons
    assert any("204" in reason for reason in r.reasons)


def test_put_is_idempotent_write():
    r = c("PUT", "/pets/{id}", operation_id="updatePet", summary="Update a pet")
    assert r.side_effect and r.category == "side_effect"
    assert r.annotations["idempotentHint"] is True


def test_unknown_method_is_treated_as_write():
    r = c("PURGE", "/cache")
    assert r.side_effect
    assert any("unknown method" in reason for reason in r.reasons)


# ---------------------------------------------------------------------------
# POST that only reads
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,kwargs",
    [
        ("/search", {}),
        ("/items/query", {}),
        ("/accounts/get", {"summary": "Retrieve accounts"}),  # Plaid style
        ("/reports", {"operation_id": "searchReports"}),
        ("/reports", {"operation_id": "listReports"}),
        ("/metadata_queries/execute_read", {"summary": "Query files/folders by metadata"}),  # Box
        ("/validateShopperId", {"summary": "Validates shopper Id"}),
    ],
)
def test_post_that_only_reads_is_read_only(path, kwargs):
    r = c("POST", path, **kwargs)
    assert r.category == "read_only", r.reasons
    assert not r.side_effect
    assert any("POST that only reads" in reason for reason in r.reasons)


def test_post_listing_payment_methods_is_read_only_billing():
    r = c(
        "POST", "/paymentMethods", operation_id="post-paymentMethods", summary="Get a list of available payment methods"
    )
    assert r.category == "read_only"
    assert rules.BILLING in r.tags
    assert r.risk_level != "low"


def test_post_search_on_payments_is_read_only_but_billing_tagged():
    r = c("POST", "/payments/search", summary="Search payments")
    assert r.category == "read_only"
    assert "billing" in r.tags
    assert r.risk_level == "medium"


def test_post_read_signal_overridden_by_201_created():
    r = c("POST", "/sessions", summary="Get a session", responses={"201": {"description": "Created"}})
    assert r.side_effect
    assert any("overridden" in reason for reason in r.reasons)


def test_post_creating_a_payment_session_is_a_billing_write():
    r = c("POST", "/sessions", summary="Create a payment session", responses={"201": {"description": "Created"}})
    assert r.category == "billing"
    assert r.side_effect


def test_post_minting_a_token_is_never_read_only():
    r = c("POST", "/oauth/token", summary="Get an access token")
    assert r.side_effect
    assert r.category == "administrative"


def test_post_read_verb_with_write_verb_in_summary_stays_a_write():
    r = c("POST", "/items/lookup", summary="Lookup and delete stale items")
    assert r.side_effect and r.destructive


def test_graphql_accepting_any_document_is_a_write():
    body = obj(query="string", variables={"type": "object"})
    r = c("POST", "/graphql", body=body)
    assert r.side_effect
    assert any("GraphQL" in reason for reason in r.reasons)


def test_graphql_restricted_to_queries_is_read_only():
    body = obj(query={"type": "string", "const": "query { viewer { login } }"}, variables={"type": "object"})
    r = c("POST", "/graphql", body=body)
    assert r.category == "read_only"


# ---------------------------------------------------------------------------
# GET that changes state
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,kwargs",
    [
        ("/user/logout", {"summary": "Logs out current logged in user session."}),
        ("/user/logout", {}),
        ("/auth.revoke", {}),
        ("/newsletter/unsubscribe", {}),
        ("/items/{id}/delete", {}),
        ("/tokens", {"summary": "Revokes all tokens"}),
    ],
)
def test_get_that_changes_state_is_side_effect(path, kwargs):
    r = c("GET", path, **kwargs)
    assert r.side_effect, r.reasons
    assert r.category != "read_only"
    assert r.annotations["readOnlyHint"] is False


def test_get_with_action_enum_is_a_destructive_write():
    param = query("action", {"type": "string", "enum": ["view", "delete"]})
    r = c("GET", "/items", params=[param])
    assert r.side_effect and r.destructive
    assert any("'action' can be 'delete'" in reason for reason in r.reasons)


def test_get_revoking_credentials_is_administrative_and_critical():
    r = c("GET", "/auth.revoke", summary="Revokes a token")
    assert r.category == "administrative"
    assert "critical" in r.tags
    assert r.risk_level == "critical"


def test_get_of_a_trash_resource_with_read_summary_stays_read_only():
    r = c("GET", "/files/{id}/trash", summary="Get trashed file")
    assert r.category == "read_only"


def test_get_of_a_plural_noun_that_is_also_a_verb_stays_read_only():
    assert c("GET", "/runs").category == "read_only"
    assert c("GET", "/captures", summary="List captures").category == "read_only"


# ---------------------------------------------------------------------------
# Critical (destructive / money-moving) verbs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "verb", ["purge", "revoke", "cancel", "close", "void", "terminate", "destroy", "wipe", "reset", "disable"]
)
def test_destructive_verbs_in_operation_id_make_a_post_critical(verb):
    r = c("POST", "/things/{id}/action", operation_id=f"{verb}Thing")
    assert r.destructive
    assert "critical" in r.categories
    assert r.risk_level in ("high", "critical")


def test_destructive_verb_in_summary():
    r = c("POST", "/sign_requests/{id}/cancel", summary="Cancel Box Sign request")
    assert r.category == "critical"


def test_destructive_verb_after_or_in_summary():
    r = c("POST", "/calls/{id}", summary="Initiates a call redirect or terminates a call")
    assert r.destructive


def test_destructive_verb_in_purpose_clause():
    r = c("POST", "/users/terminate_sessions", summary="Create jobs to terminate users session")
    assert r.destructive
    assert r.category == "administrative"


def test_permanent_wording_raises_score():
    plain = c("DELETE", "/files/{id}", summary="Remove file")
    permanent = c("DELETE", "/files/{id}/trash", summary="Permanently remove file")
    assert permanent.risk_score > plain.risk_score
    assert "described as permanent / irreversible" in permanent.reasons


# ---------------------------------------------------------------------------
# Billing
# ---------------------------------------------------------------------------


def test_refund_is_billing_tagged_critical_and_never_read_only():
    r = c(
        "POST",
        "/payments/{paymentPspReference}/refunds",
        operation_id="post-payments-paymentPspReference-refunds",
        summary="Refund a captured payment",
        body=obj(amount=obj(currency="string", value="integer")),
    )
    assert r.category == "billing"
    assert "critical" in r.tags
    assert r.risk_level == "critical"
    assert r.money_movement
    assert "path contains 'refund' (money movement / payments)" in r.reasons


def test_capture_is_billing_and_critical():
    r = c("POST", "/payments/{id}/captures", summary="Capture an authorised payment")
    assert r.category == "billing" and "critical" in r.tags
    assert r.risk_level == "critical"


def test_refund_declared_read_only_by_extension_is_still_a_write():
    r = c("POST", "/refunds", extensions={"x-mcp-readonly": True})
    assert r.side_effect
    assert r.category == "billing" and "critical" in r.tags
    assert any("ignored" in reason for reason in r.reasons)


def test_creating_a_payment_moves_money():
    r = c("POST", "/payments", summary="Start a transaction")
    assert r.money_movement and r.risk_level == "critical"


def test_billing_read_is_read_only_with_billing_tag_and_at_least_medium():
    r = c("GET", "/invoices/{id}", summary="Get an invoice")
    assert r.category == "read_only"
    assert r.tags == {"billing"}
    assert r.risk_level == "medium"
    assert any("raised to medium" in reason for reason in r.reasons)


def test_price_list_read_is_billing_tagged_read():
    r = c("GET", "/priceList", operation_id="getPriceList")
    assert r.category == "read_only" and "billing" in r.tags


def test_order_with_money_fields_is_billing_and_without_is_not():
    with_money = c("POST", "/orders", operation_id="createOrder", body=obj(amount="integer", currency="string"))
    without = c("POST", "/store/order", operation_id="placeOrder", body=obj(petId="integer", quantity="integer"))
    assert with_money.category == "billing"
    assert without.category == "side_effect"


def test_one_money_field_does_not_make_a_billing_tool():
    r = c("POST", "/Messages.json", operation_id="CreateMessage", summary="Send a message", body=obj(MaxPrice="number"))
    assert r.category == "side_effect"


def test_storage_amount_is_not_money():
    r = c("POST", "/quotas", body=obj(space_amount="integer", limit_amount="integer"))
    assert "billing" not in r.categories


def test_transfer_in_a_summary_is_critical_not_billing():
    r = c("PUT", "/users/{user_id}/folders/0", summary="Transfer owned folders")
    assert r.destructive
    assert "billing" not in r.categories


def test_transfers_resource_is_billing():
    r = c("POST", "/v1/transfers", operation_id="PostTransfers")
    assert r.category == "billing" and r.money_movement


def test_billing_keyword_in_description_counts():
    r = c(
        "POST",
        "/orders/cancel",
        summary="Cancel an order",
        description="Cancellation of an order results in a rollback of all payments made in the order.",
    )
    assert r.category == "billing"


def test_substrings_do_not_match_keywords():
    # "display" contains "pay", "repositories" contains "posit", "capacity" contains "pac"
    assert "billing" not in c("GET", "/displays").tags
    assert c("GET", "/repositories").tags == set()
    assert c("PATCH", "/capacity").category == "side_effect"
    assert c("POST", "/recaptured_images").category == "side_effect"


# ---------------------------------------------------------------------------
# Administrative
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/users"),
        ("PUT", "/users/{user_id}"),
        ("POST", "/roles"),
        ("POST", "/api_keys"),
        ("POST", "/legal_hold_policies"),
        ("POST", "/webhooks"),
        ("POST", "/collaborations"),
        ("PUT", "/admin/settings"),
        ("POST", "/organizations/{org}/sso"),
        ("PUT", "/users/{id}/password"),
    ],
)
def test_administrative_writes(method, path):
    r = c(method, path)
    assert r.category == "administrative", r.reasons
    assert r.risk_level in ("high", "critical")


def test_deleting_a_user_is_administrative_tagged_critical():
    r = c("DELETE", "/users/{user_id}", summary="Delete user")
    assert r.category == "administrative"
    assert "critical" in r.tags
    assert r.risk_level == "critical"


def test_listing_users_is_read_only_with_admin_tag():
    r = c("GET", "/users", summary="List enterprise users")
    assert r.category == "read_only" and r.tags == {"administrative"}
    assert r.risk_level == "medium"


def test_parent_scope_accounts_does_not_make_everything_administrative():
    r = c("POST", "/2010-04-01/Accounts/{AccountSid}/Calls.json", operation_id="CreateCall", summary="Create a call")
    assert r.category == "side_effect"


def test_user_defined_message_is_not_user_management():
    r = c("POST", "/Calls/{CallSid}/UserDefinedMessages.json", operation_id="CreateUserDefinedMessage")
    assert "administrative" not in r.categories


def test_admin_only_extension_marks_administrative():
    r = c("POST", "/metadata_templates/schema", extensions={"x-box-requires-admin": True})
    assert r.category == "administrative"
    assert "x-box-requires-admin: true" in r.reasons


def test_category_extension_raises_only():
    r = c("POST", "/things", extensions={"x-mcp-category": "billing"})
    assert r.category == "billing"
    low = c("DELETE", "/things/{id}", extensions={"x-mcp-category": "read_only"})
    assert low.category == "critical"


# ---------------------------------------------------------------------------
# Vendor hints
# ---------------------------------------------------------------------------


def test_readonly_extension_turns_a_post_into_a_read():
    r = c("POST", "/reports/run", extensions={"x-mcp-readonly": "true"})
    assert r.category == "read_only"


def test_readonly_extension_ignored_on_delete():
    r = c("DELETE", "/reports/{id}", extensions={"x-mcp-readonly": True})
    assert r.side_effect and r.destructive
    assert any("ignored" in reason for reason in r.reasons)


def test_openai_consequential_flags():
    assert c("GET", "/report", extensions={"x-openai-isConsequential": True}).side_effect
    assert c("POST", "/quote", extensions={"x-openai-isConsequential": False}).category == "read_only"


def test_destructive_extension():
    r = c("POST", "/jobs", extensions={"x-mcp-destructive": True})
    assert r.destructive and r.category == "critical"


def test_idempotent_extension():
    r = c("POST", "/jobs", extensions={"x-mcp-idempotent": True})
    assert r.annotations["idempotentHint"] is True


# ---------------------------------------------------------------------------
# PII and open world in the classification
# ---------------------------------------------------------------------------


def test_read_returning_pii_is_at_least_medium_with_reason():
    r = c("GET", "/contacts/{id}", response=obj(email="string", phone="string", id="string"))
    assert r.category == "read_only"
    assert r.risk_level == "medium"
    assert "response contains email, phone" in r.reasons
    assert {"path": "response.email", "kind": "email", "where": "response"} in r.pii


def test_sensitive_pii_scores_higher_than_plain_pii():
    plain = c("GET", "/contacts/{id}", response=obj(email="string"))
    card = c("GET", "/cards/{id}", response=obj(email="string", cardNumber="string"))
    assert card.risk_score > plain.risk_score


def test_callback_url_makes_a_tool_open_world():
    r = c("POST", "/jobs", body=obj(callback_url={"type": "string", "format": "uri"}))
    assert r.open_world and r.annotations["openWorldHint"] is True


def test_sending_a_message_is_open_world():
    r = c("POST", "/messages", summary="Send a message")
    assert r.open_world


def test_non_destructive_writes_top_out_at_high():
    body = obj(email="string", cardNumber="string", callback_url="string")
    r = c("POST", "/payment_links", summary="Create a payment link", body=body, response=body)
    assert r.risk_level == "high"


# ---------------------------------------------------------------------------
# Invariants and batch API
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("GET", "/invoices"),
        ("GET", "/users/me"),
        ("GET", "/admin/audit_logs"),
        ("POST", "/users"),
        ("DELETE", "/things/{id}"),
        ("GET", "/balance"),
        ("GET", "/api_keys"),
    ],
)
def test_sensitive_categories_are_never_low(args):
    assert_never_low_if_sensitive(c(*args))


def test_classify_tools_keys_by_name_and_shares_caches():
    shared = obj(email="string")
    tools = [make_tool("GET", f"/p{i}", name=f"t{i}", response=shared) for i in range(3)]
    result = classify_tools(tools)
    assert list(result) == ["t0", "t1", "t2"]
    assert all(r.pii == [{"path": "response.email", "kind": "email", "where": "response"}] for r in result.values())


def test_to_dict_is_json_ready():
    r = c("POST", "/payments/{id}/refunds")
    d = r.to_dict()
    assert d["category"] == "billing" and d["tags"] == ["critical"]
    assert set(d) >= {"category", "tags", "risk_level", "risk_score", "side_effect", "pii", "reasons", "annotations"}


def test_parameters_list_is_used_for_action_enums():
    param = Parameter(name="op", location="query", schema={"type": "string", "enum": ["purge"]})
    r = c("GET", "/cache", params=[param])
    assert r.destructive


def test_risk_level_thresholds():
    assert rules.risk_level_for(0) == "low"
    assert rules.risk_level_for(25) == "medium"
    assert rules.risk_level_for(50) == "high"
    assert rules.risk_level_for(75) == "critical"
    assert rules.risk_level_for(100) == "critical"


def test_billing_is_inherited_by_writes_below_a_billing_write():
    parent = make_tool("POST", "/IncomingPhoneNumbers.json", name="buy", summary="Purchase a phone-number")
    child = make_tool("POST", "/IncomingPhoneNumbers/Local.json", name="buy_local")
    read = make_tool("GET", "/IncomingPhoneNumbers/{Sid}.json", name="fetch")
    sibling = make_tool("POST", "/Queues.json", name="queue")
    result = classify_tools([parent, child, read, sibling])
    assert result["buy"].category == "billing" and result["buy"].money_movement
    assert result["buy_local"].category == "billing"
    assert "below billing operation 'POST /IncomingPhoneNumbers.json'" in result["buy_local"].reasons
    assert result["fetch"].category == "read_only" and "billing" not in result["fetch"].tags
    assert result["queue"].category == "side_effect"
