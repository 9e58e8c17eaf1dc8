"""Silences and scopes (issue 10): which silences a person sees, and which they may make.

A silence is visible when (a) its author shares one of the person's role groups, it is limited to a policy they see
(:func:`kcs.visibility.policy_q`), or its resource matchers (cluster, namespace, registry, repository) are
compatible with an active scope: each matcher on an attribute the scope constrains is matched by the scope's
patterns (the matcher's glob read as literal text, as :func:`kcs.globs.compile_globs` reads values). A silence
without a resource matcher concerns every resource: everyone who may view silences sees it.

A person who does not hold the Global scope may only make silences inside one of their scopes: at least one
resource matcher, and on every attribute a held scope constrains a matcher its patterns match.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from kcs.globs import compile_globs
from kcs.visibility import HeldScope, Visibility, policy_q, role_members, scope_q
from policies.models import ResponsePolicy, Silence

# The matcher fields a scope constrains (the event attributes of kcs.visibility.SCOPE_FIELDS).
RESOURCE_FIELDS = ("cluster", "namespace", "registry", "repository")


def silence_q(visibility: Visibility) -> Q:
    """Silences the person sees (everything when unrestricted)."""
    if visibility.unrestricted:
        return Q()
    condition = ~Q(matchers__has_any_keys=list(RESOURCE_FIELDS)) | _names_a_visible_policy(visibility)
    for scope in visibility.active:
        condition |= _compatible_q(scope)
    if visibility.group_ids:
        condition |= Q(created_by__in=role_members(visibility))
    return condition


def _compatible_q(scope: HeldScope) -> Q:
    """Silences whose resource matchers the scope's patterns match, attribute by attribute (a matcher the silence
    does not have constrains nothing)."""
    condition = Q()
    for attribute, patterns in scope.patterns:
        single = HeldScope(scope.id, scope.name, False, ((attribute, patterns),))
        condition &= ~Q(matchers__has_key=attribute) | scope_q(single, {attribute: f"matchers__{attribute}"})
    return condition


def _names_a_visible_policy(visibility: Visibility) -> Q:
    """Silences whose ``policies`` (a JSON list of ids) name a policy the person sees. Ids rather than a relation
    (see :class:`policies.models.Silence`), so the list is unnested in SQL: one pass, no row per id in Python."""
    if not visibility.held_ids and not visibility.group_ids:
        return Q(pk__in=[])  # sees no policy (and an empty IN list does not compile to SQL)
    policies = ResponsePolicy.objects.filter(policy_q(visibility)).values("pk")
    sql, params = policies.query.sql_with_params()
    column = f'"{Silence._meta.db_table}"."policies"'
    if connection.vendor == "postgresql":
        unnest, value = f"jsonb_array_elements_text({column}) AS named(id)", "named.id::bigint"
    else:
        unnest, value = f"json_each({column}) AS named", "named.value"
    expression = RawSQL(f"EXISTS (SELECT 1 FROM {unnest} WHERE {value} IN ({sql}))", params, BooleanField())
    return Q(expression)


def visible_silences(visibility: Visibility, queryset):
    """``queryset`` narrowed to the silences the person sees; one outside answers 404 as it is not in here."""
    return queryset.filter(silence_q(visibility))


def scope_problems(matchers: Mapping[str, str], visibility: Visibility | None) -> list[str]:
    """Why a silence with these (cleaned) ``matchers`` lies outside the person's scopes; empty when it is inside one
    of them, for a holder of Global, or with no person (system jobs). Messages start with the matcher field they are
    about (``"cluster: …"``), so the form shows them beside it."""
    if visibility is None or visibility.holds_global:
        return []
    resource = {field: matchers[field] for field in RESOURCE_FIELDS if matchers.get(field)}
    names = ", ".join(f"“{scope.name}”" for scope in visibility.held) or "none"
    if not visibility.held:
        return ["You hold no scope, so you cannot silence anything: ask an administrator for one."]
    if not resource:
        return [
            "Give a cluster, namespace, registry or repository inside one of your scopes "
            f"({names}): without one, the silence would mute events of scopes you do not hold."
        ]
    closest: list[str] | None = None
    for scope in visibility.held:
        misses = _outside(scope, resource)
        if not misses:
            return []
        if closest is None or len(misses) < len(closest):
            closest = misses
    return closest or []


def _outside(scope: HeldScope, resource: Mapping[str, str]) -> list[str]:
    """Messages per attribute the scope constrains where the silence's matcher is missing or not inside it."""
    misses = []
    for attribute, patterns in scope.patterns:
        shown = ", ".join(patterns)
        value = resource.get(attribute)
        if value is None:
            misses.append(f"{attribute}: give one inside your scope “{scope.name}” ({shown}).")
            continue
        regex = compile_globs(patterns)
        if regex is None or regex.fullmatch(value) is None:
            misses.append(f"{attribute}: “{value}” is outside your scope “{scope.name}” ({shown}).")
    return misses
