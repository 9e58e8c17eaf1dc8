"""The matching engine: every trigger, severity threshold and scope rule, the index cache and its invalidation."""

from __future__ import annotations

import pytest

from events.models import EventType, Severity
from notifications.models import NotificationIntegration
from policies.engine import CompiledPolicy, CompiledScope, PolicyIndex
from policies.index_cache import get_index, invalidate
from policies.models import ResponsePolicy, Scope, Trigger
from tests.helpers import GLOBAL, compiled, event, scope


def matched_ids(policies, ev, scopes=()) -> list[int]:
    return [p.id for p in PolicyIndex(policies, [GLOBAL, *scopes]).match(ev)]


def assert_passes(policy: CompiledPolicy, ev, *scopes: CompiledScope) -> None:
    assert matched_ids([policy], ev, scopes) == [policy.id], f"{policy} should act on {ev.__dict__}"


def assert_does_not_pass(policy: CompiledPolicy, ev, *scopes: CompiledScope) -> None:
    assert matched_ids([policy], ev, scopes) == [], f"{policy} should not act on {ev.__dict__}"


TRIGGER_TYPES = [
    (Trigger.SENSITIVE_DATA, EventType.SENSITIVE_DATA),
    (Trigger.NON_COMPLIANT, EventType.NON_COMPLIANT),
    (Trigger.CRITICAL_VULNERABILITIES, EventType.VULNERABILITY),
    (Trigger.MALWARE, EventType.MALWARE),
    (Trigger.RISK_ACCEPTANCE_EXPIRATION, EventType.RISK_ACCEPTANCE_EXPIRED),
    (Trigger.MISCONFIGURATIONS, EventType.MISCONFIGURATION),
    (Trigger.RUNTIME_THREATS, EventType.RUNTIME),
]


@pytest.mark.parametrize("trigger, event_type", TRIGGER_TYPES)
def test_each_trigger_acts_on_its_event_type_only(trigger, event_type):
    policy = compiled(trigger=trigger)
    assert_passes(policy, event(type=event_type, severity=Severity.CRITICAL))
    for other in EventType:
        if other != event_type:
            assert_does_not_pass(policy, event(type=other, severity=Severity.CRITICAL))


@pytest.mark.parametrize(
    "trigger, event_type",
    [
        (Trigger.SENSITIVE_DATA, EventType.SENSITIVE_DATA),
        (Trigger.NON_COMPLIANT, EventType.NON_COMPLIANT),
        (Trigger.MALWARE, EventType.MALWARE),
        (Trigger.RISK_ACCEPTANCE_EXPIRATION, EventType.RISK_ACCEPTANCE_EXPIRED),
    ],
)
def test_triggers_without_threshold_act_on_every_severity(trigger, event_type):
    for severity in Severity:
        assert_passes(compiled(trigger=trigger), event(type=event_type, severity=severity))


@pytest.mark.parametrize(
    "trigger, event_type, default",
    [
        (Trigger.CRITICAL_VULNERABILITIES, EventType.VULNERABILITY, Severity.CRITICAL),
        (Trigger.MISCONFIGURATIONS, EventType.MISCONFIGURATION, Severity.HIGH),
        (Trigger.RUNTIME_THREATS, EventType.RUNTIME, Severity.HIGH),
    ],
)
def test_threshold_triggers_use_their_default_when_none_is_set(trigger, event_type, default):
    policy = compiled(trigger=trigger, min_severity=None)
    assert_passes(policy, event(type=event_type, severity=default))
    assert_does_not_pass(policy, event(type=event_type, severity=default - 1))


@pytest.mark.parametrize(
    "trigger, event_type",
    [
        (Trigger.CRITICAL_VULNERABILITIES, EventType.VULNERABILITY),
        (Trigger.MISCONFIGURATIONS, EventType.MISCONFIGURATION),
        (Trigger.RUNTIME_THREATS, EventType.RUNTIME),
    ],
)
@pytest.mark.parametrize("threshold", list(Severity))
def test_threshold_means_at_least_this_severe(trigger, event_type, threshold):
    policy = compiled(trigger=trigger, min_severity=threshold)
    for severity in Severity:
        ev = event(type=event_type, severity=severity)
        if severity >= threshold:
            assert_passes(policy, ev)
        else:
            assert_does_not_pass(policy, ev)


def test_global_scope_contains_every_resource():
    policy = compiled()
    assert_passes(policy, event())
    assert_passes(policy, event(cluster="prod-1", namespace="x", registry="r.example.com", repository="a/b"))


@pytest.mark.parametrize(
    "patterns, resource, inside",
    [
        ({"clusters": ["prod-*"]}, {"cluster": "prod-eu-1"}, True),
        ({"clusters": ["prod-*"]}, {"cluster": "stage-1"}, False),
        ({"clusters": ["prod-*"]}, {}, False),  # an event without a cluster is not in a cluster-bound scope
        ({"namespaces": ["payments"]}, {"namespace": "payments"}, True),
        ({"namespaces": ["payments"]}, {"namespace": "payments-dev"}, False),  # the whole value must match
        ({"registries": ["registry.example.com"]}, {"registry": "registry.example.com"}, True),
        ({"registries": ["*.example.com"]}, {"registry": "docker.io"}, False),
        ({"repositories": ["library/*"]}, {"repository": "library/nginx"}, True),
        ({"repositories": ["library/*"]}, {"repository": "team/nginx"}, False),
        ({"clusters": ["PROD-*"]}, {"cluster": "prod-1"}, True),  # ignoring case
        ({"clusters": ["prod-?"]}, {"cluster": "prod-7"}, True),
        ({"clusters": ["prod-?"]}, {"cluster": "prod-17"}, False),
        ({"clusters": ["prod-[ab]"]}, {"cluster": "prod-b"}, True),
        ({"clusters": ["prod-[ab]"]}, {"cluster": "prod-c"}, False),
        ({"clusters": ["a", "b*"]}, {"cluster": "b-2"}, True),  # any pattern of a list
        ({"clusters": ["prod-*"], "namespaces": ["payments"]}, {"cluster": "prod-1", "namespace": "payments"}, True),
        ({"clusters": ["prod-*"], "namespaces": ["payments"]}, {"cluster": "prod-1", "namespace": "web"}, False),
        ({"clusters": ["prod-*"], "namespaces": ["payments"]}, {"cluster": "dev", "namespace": "payments"}, False),
        ({"clusters": [], "namespaces": ["web"]}, {"cluster": "anything", "namespace": "web"}, True),  # empty = any
        ({"clusters": ["  prod-*  "]}, {"cluster": "prod-1"}, True),
    ],
)
def test_scope_rules(patterns, resource, inside):
    bound = scope(2, **patterns)
    policy = compiled(scopes=(2,))
    if inside:
        assert_passes(policy, event(**resource), bound)
    else:
        assert_does_not_pass(policy, event(**resource), bound)


def test_a_policy_acts_when_the_event_is_in_any_of_its_scopes_and_acts_once():
    prod, payments = scope(2, clusters=["prod-*"]), scope(3, namespaces=["payments"])
    policy = compiled(scopes=(2, 3))
    assert_passes(policy, event(cluster="prod-1", namespace="web"), prod, payments)
    assert_passes(policy, event(cluster="dev", namespace="payments"), prod, payments)
    assert matched_ids([policy], event(cluster="prod-1", namespace="payments"), [prod, payments]) == [policy.id]
    assert_does_not_pass(policy, event(cluster="dev", namespace="web"), prod, payments)


def test_every_matching_policy_acts_and_none_overrides_another():
    policies = [compiled(id=1), compiled(id=2, scopes=(2,)), compiled(id=3, trigger=Trigger.NON_COMPLIANT)]
    assert matched_ids(policies, event(cluster="prod-1"), [scope(2, clusters=["prod-*"])]) == [1, 2]


def test_match_batch_groups_the_events_of_each_policy_in_order():
    vuln = compiled(id=1, trigger=Trigger.CRITICAL_VULNERABILITIES, min_severity=Severity.HIGH)
    malware = compiled(id=2)
    events = [
        event(type=EventType.VULNERABILITY, severity=Severity.CRITICAL, cluster="a"),
        event(type=EventType.MALWARE),
        event(type=EventType.VULNERABILITY, severity=Severity.LOW),
        event(type=EventType.VULNERABILITY, severity=Severity.HIGH, cluster="b"),
    ]
    result = PolicyIndex([vuln, malware], [GLOBAL]).match_batch(events)
    assert [(policy.id, matched) for policy, matched in result] == [(1, [events[0], events[3]]), (2, [events[1]])]


def test_empty_index_matches_nothing():
    assert PolicyIndex([], [GLOBAL]).match(event()) == []


# --- the cached index built from the database -------------------------------------------------------------------


@pytest.mark.django_db
def test_index_holds_enabled_policies_only_with_enabled_integrations_in_method_order(make_policy, outputs):
    active = make_policy("Active", trigger=Trigger.MALWARE, min_severity=None, methods=("hook", "mail", "chat"))
    make_policy("Off", trigger=Trigger.MALWARE, min_severity=None, enabled=False)
    NotificationIntegration.objects.filter(pk=outputs["mail"].pk).update(enabled=False)
    invalidate()
    [policy] = get_index().match(event())
    assert policy.id == active.pk
    assert policy.integration_ids == (outputs["hook"].pk, outputs["chat"].pk)


@pytest.mark.django_db
def test_index_follows_every_change_of_policies_and_scopes(make_policy, prod_scope):
    policy = make_policy("Prod malware", trigger=Trigger.MALWARE, min_severity=None, scopes=[prod_scope])
    prod_event = event(cluster="prod-1", namespace="payments")
    assert [p.id for p in get_index().match(prod_event)] == [policy.pk]

    prod_scope.clusters = ["stage-*"]
    prod_scope.save()
    assert get_index().match(prod_event) == []

    policy.scopes.add(Scope.objects.get(is_global=True))
    assert [p.id for p in get_index().match(prod_event)] == [policy.pk]

    policy.enabled = False
    policy.save()
    assert get_index().match(prod_event) == []

    ResponsePolicy.objects.filter(pk=policy.pk).update(enabled=True)
    invalidate()  # a bulk update sends no signal: callers invalidate
    assert [p.id for p in get_index().match(prod_event)] == [policy.pk]

    policy.delete()
    assert get_index().match(prod_event) == []


@pytest.mark.django_db
def test_index_is_reused_while_nothing_changes(make_policy, django_assert_num_queries):
    make_policy("Malware", trigger=Trigger.MALWARE, min_severity=None)
    first = get_index()
    with django_assert_num_queries(1):  # only the revision number is read
        assert get_index() is first
