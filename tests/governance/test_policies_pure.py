"""Approval-policy choice and requirements (apps/governance/policies.py): no database."""

from datetime import timedelta

import pytest

from apps.governance import conditions
from apps.governance.grants import Target, ToolRef
from apps.governance.policies import PolicyRef, applicable, build_tiers, requirement, validate_policy

REFUND = ToolRef("POST /refunds", "billing", frozenset({"payments", "critical"}))
READ = ToolRef("GET /orders", "read_only", frozenset({"orders"}))
PROD, STAGING = "3", "2"


def policy(pid, target, kind="single", approvals=1, conditional=(), env=None, steps=(), order="any", **kw):
    return PolicyRef(id=pid, label=f"policy {pid}", target=target, kind=kind, approvals_required=approvals,
                     order=order, steps=tuple(steps), tiers=tuple(build_tiers(kind, approvals, order, conditional)),
                     environment_id=env, **kw)


LARGE = [{"when": [{"field": "amount", "operator": ">", "value": 10000}], "approvals": 2, "order": "sequential"}]


def test_refund_above_10000_needs_two_approvals_below_one():
    refs = [policy("p", Target.names("POST /refunds"), conditional=LARGE)]
    big = requirement(refs, REFUND, PROD, {"amount": 25000})
    small = requirement(refs, REFUND, PROD, {"amount": 50})
    assert (big.kind, big.approvals_required, big.order, big.tier_index) == ("multi", 2, "sequential", 0)
    assert (small.kind, small.approvals_required, small.order, small.tier_index) == ("single", 1, "any", 1)
    assert "amount > 10000" in big.reason
    # amounts sent as decimal strings compare as numbers; a non-number never matches the tier
    assert requirement(refs, REFUND, PROD, {"amount": "10000.01"}).approvals_required == 2
    assert requirement(refs, REFUND, PROD, {"amount": "lots"}).approvals_required == 1


def test_no_policy_means_no_requirement_and_none_kind_exempts():
    assert requirement([], REFUND, PROD, {}) is None
    refs = [policy("cat", Target.category("billing"), kind="multi", approvals=2),
            policy("exempt", Target.names("POST /refunds"), kind="none", approvals=0)]
    # the tool-level "none" is more specific than the category policy: no approval
    assert requirement(refs, REFUND, PROD, {}) is None
    assert [p.id for p in applicable(refs, REFUND, PROD)] == ["exempt", "cat"]


def test_specificity_tool_tag_category_all_then_environment_then_strictness():
    refs = [
        policy("all", Target.any_tool(), approvals=1),
        policy("cat", Target.category("billing"), kind="multi", approvals=3),
        policy("tag", Target.tag("payments"), kind="multi", approvals=2),
        policy("tag-prod", Target.tag("payments"), approvals=1, env=PROD),
    ]
    assert [p.id for p in applicable(refs, REFUND, PROD)] == ["tag-prod", "tag", "cat", "all"]
    assert [p.id for p in applicable(refs, REFUND, STAGING)] == ["tag", "cat", "all"]
    assert requirement(refs, REFUND, STAGING, {}).policy_id == "tag"
    assert [p.id for p in applicable(refs, READ, PROD)] == ["all"]
    # between equally specific policies the stricter one decides
    tied = [policy("one", Target.category("billing")), policy("two", Target.category("billing"), "multi", 2)]
    assert requirement(tied, REFUND, PROD, {}).policy_id == "two"


def test_policy_without_default_tier_falls_through_when_no_tier_matches():
    only_large = PolicyRef(id="large", label="large", target=Target.names("POST /refunds"), kind="multi",
                           approvals_required=2, tiers=tuple(LARGE))
    fallback = policy("cat", Target.category("billing"))
    assert requirement([only_large, fallback], REFUND, PROD, {"amount": 20000}).policy_id == "large"
    assert requirement([only_large, fallback], REFUND, PROD, {"amount": 5}).policy_id == "cat"


def test_steps_are_cut_to_the_tier_and_the_shape_is_what_approvals_need():
    steps = [{"kind": "team", "value": "finance", "label": "Finance"}, {"kind": "role", "value": "admin"}]
    refs = [policy("p", Target.names("POST /refunds"), conditional=LARGE, steps=steps,
                   expires_after=timedelta(hours=4), justification_required=True)]
    big = requirement(refs, REFUND, PROD, {"amount": 20000})
    small = requirement(refs, REFUND, PROD, {"amount": 1})
    assert big.steps == steps and small.steps == steps[:1]
    assert big.expires_after == timedelta(hours=4) and big.justification_required is True
    assert big.policy_id == "p" and big.policy_label == "policy p"


def test_invalid_stored_tiers_fail_closed():
    broken = PolicyRef(id="x", label="x", target=Target.any_tool(), kind="single", approvals_required=1,
                       tiers=({"when": [{"field": "amount", "operator": "~~", "value": 1}], "approvals": 1},))
    with pytest.raises(conditions.ConditionError):
        requirement([broken], READ, PROD, {})


def test_validate_policy_reports_every_problem():
    errors = validate_policy(kind="multi", approvals_required=1, order="random", steps=[{"kind": "user"}],
                             tiers=build_tiers("multi", 1, "any", [{"when": [{"field": "", "operator": ">"}],
                                                                    "approvals": 2}]))
    text = " ".join(errors)
    assert "2 to 10 approvals" in text and "Order must be" in text and "Step 1" in text
    assert "Conditions:" in text and "field is required" in text
    assert validate_policy(kind="single", approvals_required=1, order="any", steps=[],
                           tiers=build_tiers("single", 1, "any")) == []


# --------------------------------------------------------------- several documents, fail closed

SMALL_AND_LARGE = [
    {"when": [{"field": "amount", "operator": ">", "value": 1000}], "approvals": 2, "order": "sequential"},
]


def test_received_documents_are_evaluated_and_the_strictest_wins():
    refs = [policy("p", Target.names("POST /refunds"), conditional=SMALL_AND_LARGE)]
    # the tool arguments hide the amount inside an object; the query string the upstream
    # receives carries it at the top level: the received document decides
    need = requirement(refs, REFUND, PROD, {"filter": {"amount": 5000000}}, received=[{"amount": "5000000"}])
    assert (need.approvals_required, need.order, need.tier_index) == (2, "sequential", 0)
    assert "what the upstream receives" in need.reason and "amount > 1000" in need.reason
    # without the received document the arguments alone select the default tier
    assert requirement(refs, REFUND, PROD, {"filter": {"amount": 5000000}}).approvals_required == 1
    # a lenient received document never lowers what the arguments need
    need = requirement(refs, REFUND, PROD, {"amount": 5000}, received=[{"amount": 1}, {}])
    assert need.approvals_required == 2 and "upstream" not in need.reason


def test_received_documents_can_create_a_requirement_where_arguments_need_none():
    only_large = PolicyRef(id="large", label="large", target=Target.names("POST /refunds"), kind="multi",
                           approvals_required=2, tiers=tuple(SMALL_AND_LARGE))
    assert requirement([only_large], REFUND, PROD, {"q": 1}) is None
    assert requirement([only_large], REFUND, PROD, {"q": 1}, received=[{"q": "1"}]) is None
    need = requirement([only_large], REFUND, PROD, {"q": 1}, received=[{"q": "1"}, {"amount": "9000"}])
    assert need.approvals_required == 2


@pytest.mark.parametrize("amount", [float("inf"), float("-inf"), float("nan")])
def test_undecidable_value_selects_the_strictest_tier_and_says_why(amount):
    refs = [policy("p", Target.names("POST /refunds"), conditional=SMALL_AND_LARGE)]
    need = requirement(refs, REFUND, PROD, {"amount": amount})
    assert (need.approvals_required, need.order, need.tier_index) == (2, "sequential", 0)
    assert "strictest tier" in need.reason and "could not be decided" in need.reason
    assert "amount > 1000" in need.reason


def test_the_requirement_says_in_words_which_part_of_the_policy_matched():
    """Issue 18 item 12: the approval page says which condition matched, without internal values."""
    refs = [policy("p", Target.category("billing"), conditional=LARGE, env=PROD)]
    big = requirement(refs, REFUND, PROD, {"amount": 25000})
    assert big.matched == ("“policy p” applies because it covers the billing category in this environment; "
                           "the arguments matched amount > 10000.")
    small = requirement(refs, REFUND, PROD, {"amount": 5})
    assert small.matched.endswith("no condition on the arguments: its default rule applies.")
    by_name = requirement([policy("n", Target.names("POST /refunds"))], REFUND, STAGING, {})
    assert "it names the tool POST /refunds in every environment" in by_name.matched
    by_tag = requirement([policy("t", Target.tag("payments"))], REFUND, STAGING, {})
    assert "it covers the tag payments" in by_tag.matched
    read = requirement([policy("r", Target.category("read_only"))], READ, STAGING, {})
    assert "read-only category" in read.matched and "read_only" not in read.matched
    undecided = requirement(refs, REFUND, PROD, {"amount": float("inf")})
    assert "could not be decided" in undecided.matched and undecided.approvals_required == 2
