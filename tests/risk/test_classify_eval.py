"""Issue 19: the evaluation set, its file format, the error kinds the classifier must get right,
the evidence named in every rationale, and the benchmark targets on the tuning split."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from apps.risk import rules
from apps.risk.classify import classify_tool
from apps.risk.evalset import (
    Label,
    LabelError,
    Prediction,
    Scores,
    dump_csv,
    dump_json,
    load_labels,
    method_baseline,
    split_of,
)
from apps.specs.domain import Parameter

from .factories import make_tool, obj

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "classify_eval"
SHARED_SPECS = REPO.parent / "shared" / "specs"


def c(method, path, **kw):
    return classify_tool(make_tool(method, path, **kw))


def kinds(r):
    return {p["kind"] for p in r.pii}


# --- the label file -------------------------------------------------------------------------


def test_label_file_has_enough_operations_specs_and_a_held_out_third():
    labels = load_labels((DATA / "labels.yaml").read_text(encoding="utf-8"))
    assert len(labels) >= 250
    assert len({lab.spec for lab in labels}) >= 8
    keys = [(lab.spec, lab.operation) for lab in labels]
    assert len(keys) == len(set(keys))
    held = [lab for lab in labels if split_of(lab.spec, lab.operation) == "heldout"]
    assert len(labels) / 4 < len(held) < len(labels) / 2  # about a third, fixed by the hash
    assert {lab.category for lab in labels} == set(rules.CATEGORIES)


def test_split_is_deterministic_and_not_alphabetical():
    assert split_of("box.json", "GET /folders/{folder_id}") == split_of("box.json", "GET /folders/{folder_id}")
    splits = {split_of("x.json", f"GET /r{i}") for i in range(30)}
    assert splits == {"tuning", "heldout"}


def test_json_and_csv_round_trip():
    labels = [
        Label("a.json", "DELETE /x/{id}", "critical", False, (), "n", "hand"),
        Label("a.json", "POST /users", "administrative", True, ("email", "name"), "", "hand"),
        Label("a.json", "PUT /x", "side_effect", None, (), "override by a: b", "override"),
    ]
    assert load_labels(dump_json(labels)) == labels
    assert load_labels(dump_csv(labels)) == labels


@pytest.mark.parametrize(
    "text,message",
    [
        ('[{"spec": "a", "operation": "GET /x", "category": "dangerous"}]', "unknown category 'dangerous'"),
        ('[{"spec": "a", "operation": "/x", "category": "read_only"}]', "must look like 'GET /path'"),
        ('[{"operation": "GET /x", "category": "read_only"}]', "'spec' is missing"),
        ('[{"spec": "a", "operation": "GET /x", "category": "read_only", "pii": "maybe"}]', "pii must be"),
        ('{"labels": 3}', "expected a list"),
        ("[1]", "label 1: expected a mapping"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_label_files_are_refused_with_the_reason(text, message):
    with pytest.raises(LabelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_labels(text)


def test_scores_count_high_risk_rated_low_and_pii_precision():
    s = Scores()
    s.add(Label("a", "POST /refunds", "billing", True), Prediction("billing", "low", True))
    s.add(Label("a", "GET /x", "read_only", False), Prediction("read_only", "low", True))
    s.add(Label("a", "GET /y", "read_only", None), Prediction("side_effect", "medium", True))
    assert s.high_risk_low == ["a POST /refunds"]
    assert (s.pii_tp, s.pii_fp, s.pii_labelled) == (1, 1, 2)  # an unknown PII label is not scored
    assert s.accuracy == pytest.approx(2 / 3) and s.pii_precision == 0.5
    assert method_baseline("DELETE") == "critical" and method_baseline("options") == "read_only"


# --- the error kinds of the issue -----------------------------------------------------------


def test_billing_needs_money_or_a_charge_not_just_a_payment_topic():
    token = c("POST", "/storedPaymentMethods", summary="Create a token to store payment details",
              body=obj(shopperReference="string", paymentMethod=obj(number="string")))  # fmt: skip
    assert token.category == "side_effect" and "billing" in token.tags
    assert any("no money moves" in r for r in token.reasons)
    pay = c(
        "POST", "/payments", summary="Start a transaction", body=obj(amount=obj(currency="string", value="integer"))
    )
    assert pay.category == "billing"
    assert any(r.startswith("billing write: request body has amount") for r in pay.reasons)


def test_metadata_only_update_of_a_payout_is_a_side_effect():
    r = c("POST", "/v1/payouts/{payout}", operation_id="PostPayoutsPayout",
          summary="Update a payout", body=obj(metadata={"type": "object"}))  # fmt: skip
    assert r.category == "side_effect" and "billing" in r.tags


def test_minting_a_credential_is_administrative_even_as_a_post_that_gets():
    r = c("POST", "/app/installations/{installation_id}/access_tokens", summary="Create an installation access token")
    assert r.category == "administrative" and r.risk_level != "low"


@pytest.mark.parametrize(
    "summary,path",
    [
        ("Remove a label from an issue", "/issues/{n}/labels/{name}"),
        ("Remove watermark from file", "/files/{id}/watermark"),
    ],
)
def test_reversible_removals_are_side_effects(summary, path):
    r = c("DELETE", path, summary=summary)
    assert r.category == "side_effect" and not r.destructive and r.risk_level == "medium"
    assert any("removes an association" in x for x in r.reasons)


@pytest.mark.parametrize(
    "summary", ["Remove metadata instance from file", "Permanently remove the user from the group", "Remove comment"]
)
def test_removals_that_lose_content_stay_destructive(summary):
    assert c("DELETE", "/files/{id}/metadata/{scope}", summary=summary).destructive


def test_deleting_an_organisation_is_critical_and_a_for_qualifier_is_not_the_subject():
    org = c("DELETE", "/orgs/{org}", operation_id="orgs/delete", summary="Delete an organization")
    assert org.category == "critical" and "administrative" in org.tags and org.risk_level in ("high", "critical")
    space = c("DELETE", "/user/codespaces/{name}", operation_id="codespaces/delete-for-authenticated-user",
              summary="Delete a codespace for the authenticated user")  # fmt: skip
    assert space.category == "critical" and "administrative" not in space.tags


def test_transferring_a_repository_is_critical_not_billing():
    r = c("POST", "/repos/{owner}/{repo}/transfer", operation_id="repos/transfer", summary="Transfer a repository",
          body=obj(new_owner="string"))  # fmt: skip
    assert r.category == "critical" and not r.money_movement


# --- PII: what the operation carries or returns about people ------------------------------------


def test_people_in_references_on_a_thing_are_not_flagged():
    user = {"title": "User (Mini)", "type": "object", "properties": {"name": {"type": "string"}, "login": {}}}
    folder = {"title": "Folder", "type": "object", "properties": {"name": {"type": "string"}, "created_by": user}}
    r = c("GET", "/folders/{folder_id}", response=folder)
    assert r.pii == []
    assert any("personal fields only in references" in x and "created_by" in x for x in r.reasons)


def test_people_of_a_membership_are_flagged():
    user = {"title": "User (Mini)", "type": "object", "properties": {"name": {"type": "string"}}}
    r = c("GET", "/groups/{group_id}/memberships", response=obj(entries={"type": "array", "items": obj(user=user)}))
    assert kinds(r) == {"name"} and r.risk_level == "medium"


def test_deep_optional_sub_schemas_are_not_flagged_but_direct_fields_are():
    passengers = {"type": "array", "items": obj(firstName="string", dateOfBirth="string")}
    capture = c(
        "POST", "/payments/{id}/captures", body=obj(amount="integer", scheme=obj(airline=obj(passengers=passengers)))
    )
    assert capture.pii == []
    pay = c(
        "POST", "/payments", body=obj(amount="integer", shopperEmail="string", paymentMethod=obj(holderName="string"))
    )
    assert {p["path"] for p in pay.pii} == {"request.shopperEmail", "request.paymentMethod.holderName"}


def test_path_identifier_and_inventory_numbers_are_not_flagged():
    username = Parameter(name="username", location="path", description="", schema={"type": "string"})
    r = c("DELETE", "/orgs/{org}/members/{username}", params=[username])
    assert r.pii == []
    listing = obj(available_phone_numbers={"type": "array", "items": obj(phone_number="string")})
    numbers = c("GET", "/Accounts/{Sid}/AvailablePhoneNumbers/{Country}/Local.json", response=listing)
    assert numbers.pii == []


def test_message_content_and_schemaless_people_reads_are_flagged_with_evidence():
    comment = c("POST", "/v1/comments", body=obj(rich_text="string", parent=obj(page_id="string")))
    assert kinds(comment) == {"message_content"}
    users = c("GET", "/v1/users", responses={"200": {"description": "ok"}})
    assert users.pii and any("no response schema declared" in x for x in users.reasons)


# --- every decision names its evidence ---------------------------------------------------------


def test_every_rationale_ends_with_the_decision_and_names_scopes_and_money():
    tool = make_tool("POST", "/refunds", summary="Refund a payment", body=obj(amount="integer", currency="string"))
    tool.security = [{"oauth": ["payments:write"]}]
    r = classify_tool(tool)
    assert r.reasons[-1] == "Decision: billing: money moves or what is charged changes (POST, verb 'refund')"
    assert "requires security scopes: payments:write" in r.reasons
    assert any("amount" in x and "currency" in x for x in r.reasons)


# --- the benchmark targets on the tuning split ---------------------------------------------------


@pytest.mark.skipif(not (SHARED_SPECS / "box.json").is_file(), reason="needs ../shared/specs")
def test_benchmark_targets_on_the_tuning_split():
    sys.path.insert(0, str(REPO / "bench"))
    import classify_eval

    scores = Scores()
    cache: dict[str, dict[str, Prediction]] = {}
    for label in load_labels((DATA / "labels.yaml").read_text(encoding="utf-8")):
        if split_of(label.spec, label.operation) != "tuning":
            continue
        if label.spec not in cache:
            cache[label.spec] = classify_eval.predict(classify_eval.find_spec(label.spec, classify_eval.DEFAULT_SPECS))
        scores.add(label, cache[label.spec][label.operation])
    assert scores.accuracy >= 0.92, scores.errors
    assert scores.pii_precision >= 0.85 and scores.pii_recall >= 0.80, scores.errors
    assert scores.high_risk_low == []
    assert scores.accuracy > scores.baseline_accuracy + 0.2


def test_an_organisations_own_email_is_not_flagged_but_an_email_sent_below_a_thing_is():
    org = c("PATCH", "/orgs/{org}", body=obj(billing_email="string", email="string", description="string"))
    assert org.pii == []
    share = c("POST", "/files/{file_id}/share", body=obj(recipient_email="string"))
    assert kinds(share) == {"email"}
