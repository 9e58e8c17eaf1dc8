"""What a person may see: the scopes they hold, the one that is active, and the filters every list applies.

A person's scopes are the union of their roles' scopes (a system role covers the Global scope), narrowed by the
person's own limit when one is set (:attr:`kcs.models.UserProfile.scopes`). The Global scope counts only for
someone with *view global scope*; holding it means seeing everything, so the switcher then offers every scope.
Superusers hold every scope.

The active scope is one of the held scopes or, by default, all of them: screens keep it in the session (the
switcher in the header), the API takes ``?scope=<id>`` on any call. Lists filter by :meth:`Visibility.resource_q`
(the same case-insensitive globs as the engine, :mod:`kcs.globs`); an object outside the active scopes answers 404
because it is simply not in the filtered queryset.

Scopes belong to the policies app: this module reaches them through :attr:`Role.scopes` (a relation named by
string) so that every layer can filter by them without importing the layer above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Upper
from django.db.models.lookups import Exact, StartsWith
from rest_framework.exceptions import ValidationError

from kcs.globs import GLOB_CHARS, compile_globs, glob_to_regex, literal_prefix
from kcs.models import Role, UserProfile
from kcs.rights import VIEW_GLOBAL_SCOPE

SESSION_KEY = "kcs_active_scope"
QUERY_PARAMETER = "scope"
_REQUEST_ATTRIBUTE = "_kcs_visibility"

# A scope's pattern list → the event attribute it constrains (as the engine reads them).
SCOPE_FIELDS = (
    ("clusters", "cluster"),
    ("namespaces", "namespace"),
    ("registries", "registry"),
    ("repositories", "repository"),
)
# Where a security event keeps each attribute: the default for resource_q().
EVENT_FIELDS: Mapping[str, str] = {attribute: attribute for _, attribute in SCOPE_FIELDS}


def scope_model():
    """The Scope model (policies app), reached through the relation rather than an import."""
    return Role._meta.get_field("scopes").related_model


@dataclass(frozen=True)
class HeldScope:
    """A scope as visibility reads it: its id, name and cleaned patterns per event attribute."""

    id: int
    name: str
    is_global: bool
    patterns: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, scope: Any) -> HeldScope:
        patterns = []
        if not scope.is_global:
            for list_name, attribute in SCOPE_FIELDS:
                cleaned = tuple(p.strip() for p in getattr(scope, list_name) or () if p and p.strip())
                if cleaned:
                    patterns.append((attribute, cleaned))
        return cls(id=scope.pk, name=scope.name, is_global=scope.is_global, patterns=tuple(patterns))


class ScopeNotHeld(ValueError):
    """The selected scope is not one the person holds."""


@dataclass(frozen=True)
class Visibility:
    """A person's scopes and the active selection (``selected`` None: all of them)."""

    user_id: int | None
    held: tuple[HeldScope, ...]
    selected: int | None = None
    # The person's role groups (group ids): a policy whose author shares one of them is visible (KCS's rule a).
    group_ids: frozenset[int] = field(default_factory=frozenset)

    @cached_property
    def active(self) -> tuple[HeldScope, ...]:
        if self.selected is None:
            return self.held
        return tuple(scope for scope in self.held if scope.id == self.selected)

    @cached_property
    def held_ids(self) -> frozenset[int]:
        return frozenset(scope.id for scope in self.held)

    @cached_property
    def active_ids(self) -> frozenset[int]:
        return frozenset(scope.id for scope in self.active)

    @property
    def holds_global(self) -> bool:
        return any(scope.is_global for scope in self.held)

    @property
    def unrestricted(self) -> bool:
        """The active selection covers everything (it includes the Global scope)."""
        return any(scope.is_global for scope in self.active)

    def resource_q(self, fields: Mapping[str, str] = EVENT_FIELDS) -> Q:
        """Rows in any active scope. ``fields`` maps an event attribute (cluster, namespace, registry,
        repository) to the row's field path; a scope's patterns on an attribute the row does not have are not
        applied (a risk acceptance has no cluster: a cluster-only scope does not narrow acceptances)."""
        if self.unrestricted:
            return Q()
        condition = Q(pk__in=[])
        for scope in self.active:
            scoped = scope_q(scope, fields)
            if not scoped:  # none of its patterns applies to these rows: the scope covers them all
                return Q()  # (OR-ing an empty Q would keep the other side alone: nothing)
            condition |= scoped
        return condition

    def contains(self, row: Any, fields: Mapping[str, str] = EVENT_FIELDS) -> bool:
        """Whether ``row`` (attributes as in ``fields``) lies in an active scope — resource_q() in Python."""
        if self.unrestricted:
            return True
        return any(scope_contains(scope, row, fields) for scope in self.active)


def scope_q(scope: HeldScope, fields: Mapping[str, str] = EVENT_FIELDS) -> Q:
    """Rows in ``scope``: every pattern list (on an attribute the row has) matches its field, case-insensitively."""
    condition = Q()
    for attribute, patterns in scope.patterns:
        path = fields.get(attribute)
        if path is None:
            continue
        any_pattern = Q(pk__in=[])
        for pattern in patterns:
            if GLOB_CHARS & set(pattern):
                regex = glob_to_regex(pattern, connection.vendor)
                if regex is not None:
                    any_pattern |= Q(**{f"{path}__iregex": regex}) & _prefix_q(path, pattern)
            else:
                any_pattern |= Q(**{f"{path}__iexact": pattern})
        condition &= any_pattern
    return condition


# Columns with an index on UPPER(column) that answers LIKE prefixes (events' event_cluster_ci_id, text_pattern_ops on
# PostgreSQL): a regex reads every row, so a glob's literal prefix is also given as a LIKE the index can answer.
PREFIX_INDEXED = frozenset({"cluster"})


def _prefix_q(path: str, pattern: str) -> Q:
    """``UPPER(path) LIKE 'PREFIX%'`` for a glob with a literal prefix on an indexed column; an empty Q otherwise.
    It only narrows what the regex then decides, so it is exact: for an ASCII prefix, every value the regex
    matches (case-insensitively) has that prefix in upper case; other prefixes are left to the regex alone, as
    Python's and PostgreSQL's upper case may differ beyond ASCII."""
    prefix = literal_prefix(pattern)
    if path not in PREFIX_INDEXED or not prefix or not prefix.isascii() or connection.vendor != "postgresql":
        return Q()
    return Q(StartsWith(Upper(path), prefix.upper()))


def scope_contains(scope: HeldScope, row: Any, fields: Mapping[str, str] = EVENT_FIELDS) -> bool:
    if scope.is_global:
        return True
    for attribute, patterns in scope.patterns:
        path = fields.get(attribute)
        if path is None:
            continue
        regex = compile_globs(patterns)
        if regex is not None and regex.fullmatch(str(_read(row, path) or "")) is None:
            return False
    return True


def _read(row: Any, path: str) -> Any:
    value = row
    for part in path.split("__"):
        value = value.get(part) if isinstance(value, Mapping) else getattr(value, part, None)
    return value


# --- who holds what -----------------------------------------------------------------------------------------------
def held_scopes(user) -> tuple[tuple[HeldScope, ...], frozenset[int]]:
    """The scopes ``user`` holds (Global first, then by name) and their role group ids. Two queries: the roles
    with their scopes, then the held scope rows narrowed by the person's own limit."""
    if user is None or not user.is_authenticated:
        return (), frozenset()
    Scope = scope_model()
    rows = list(
        Role.objects.filter(group__user=user).values_list("group_id", "is_system", "scopes", "scopes__is_global")
    )
    group_ids = frozenset(group_id for group_id, *_ in rows)
    role_scope_ids = {scope_id for _, _, scope_id, is_global in rows if scope_id is not None and not is_global}
    covers_global = user.is_superuser or (
        any(is_system or is_global for _, is_system, _, is_global in rows) and user.has_perm(VIEW_GLOBAL_SCOPE)
    )
    scopes = Scope.objects.all() if covers_global else Scope.objects.filter(pk__in=role_scope_ids)
    if not user.is_superuser:
        limit = UserProfile.scopes.through.objects.filter(userprofile__user=user)
        scopes = scopes.filter(~Exists(limit) | Q(pk__in=limit.values("scope_id")))
    held = tuple(HeldScope.of(scope) for scope in scopes.order_by("-is_global", "name"))
    return held, group_ids


def visibility_for(user, selected: int | None = None) -> Visibility:
    """``user``'s visibility with ``selected`` active (None: all their scopes); ScopeNotHeld for a scope they do
    not hold."""
    held, group_ids = held_scopes(user)
    if selected is not None and selected not in {scope.id for scope in held}:
        raise ScopeNotHeld(selected)
    return Visibility(user_id=getattr(user, "pk", None), held=held, selected=selected, group_ids=group_ids)


def visibility_of(request) -> Visibility:
    """The visibility of the person making ``request`` (a Django or DRF request), computed once per request.

    API calls select with ``?scope=<id>`` (a DRF ValidationError naming ``scope`` when it is not theirs); screens
    use the switcher's choice kept in the session (a choice no longer held falls back to all scopes).
    """
    django_request = getattr(request, "_request", request)
    cached = getattr(django_request, _REQUEST_ATTRIBUTE, None)
    if cached is not None and cached.user_id == getattr(request.user, "pk", None):
        return cached
    if hasattr(request, "query_params"):
        visibility = _api_visibility(request)
    else:
        visibility = _session_visibility(request)
    setattr(django_request, _REQUEST_ATTRIBUTE, visibility)
    return visibility


def _api_visibility(request) -> Visibility:
    raw = request.query_params.get(QUERY_PARAMETER)
    if raw in (None, ""):
        return visibility_for(request.user)
    message = "Not one of your scopes: use an id that GET /api/v1/scopes/ lists."
    try:
        return visibility_for(request.user, int(raw))
    except (ValueError, OverflowError):  # ScopeNotHeld is a ValueError too
        raise ValidationError({QUERY_PARAMETER: [message]}) from None


def _session_visibility(request) -> Visibility:
    session = getattr(request, "session", None)
    selected = session.get(SESSION_KEY) if session is not None else None
    try:
        return visibility_for(request.user, selected if isinstance(selected, int) else None)
    except ScopeNotHeld:
        session.pop(SESSION_KEY, None)
        return visibility_for(request.user)


def select(request, scope_id: int | None) -> Visibility:
    """Make ``scope_id`` (None: all my scopes) the active scope of this session; ScopeNotHeld when not held."""
    visibility = visibility_for(request.user, scope_id)
    if scope_id is None:
        request.session.pop(SESSION_KEY, None)
    else:
        request.session[SESSION_KEY] = scope_id
    setattr(getattr(request, "_request", request), _REQUEST_ATTRIBUTE, visibility)
    return visibility


# --- response policies: KCS's visibility rules ----------------------------------------------------------------------
# Here rather than in the policies app so that the delivery log (notifications, a lower layer) filters its rows by
# the same rules; the policy model is reached through the Scope model's reverse relation, never imported.
def policy_model():
    """The ResponsePolicy model (policies app), reached through ``Scope.policies``."""
    return scope_model()._meta.get_field("policies").related_model


def role_members(visibility: Visibility):
    """User ids sharing one of the person's role groups (a sub-query), for KCS's rule (a)."""
    return get_user_model().groups.through.objects.filter(group_id__in=visibility.group_ids).values("user_id")


def _policies_with_scopes(scope_ids: frozenset[int]):
    """Ids of the policies using one of ``scope_ids``, as a sub-query."""
    return policy_model().scopes.through.objects.filter(scope_id__in=scope_ids).values("responsepolicy_id")


def policy_q(visibility: Visibility) -> Q:
    """Response policies the person sees: (a) its author shares one of their role groups, (b) one of its scopes is
    active, or (c) one of its scopes is held. Active scopes are held ones, so (b) lies inside (c): the switcher does
    not narrow the policies, as in KCS. Everything for an unrestricted person (Global active).

    Written as two ``IN (sub-query)`` conditions rather than joins: no duplicate rows, and PostgreSQL answers them
    with hashed sub-plans, one pass over the policies whatever their number.
    """
    if visibility.unrestricted:
        return Q()
    condition = Q(pk__in=_policies_with_scopes(visibility.held_ids)) if visibility.held_ids else Q(pk__in=[])
    if visibility.group_ids:
        condition |= Q(created_by__in=role_members(visibility))
    return condition


def editable_policy_q(visibility: Visibility) -> Q:
    """Of the policies :func:`policy_q` shows, those the person may change (given the manage right): (a), or every
    one of its scopes held. A policy seen only because it touches one of their scopes while covering others (rule
    (c) alone) is read-only. Combine with :func:`policy_q`: alone, it also holds for policies without any scope.

    "No scope outside" is a correlated count equal to zero rather than a NOT EXISTS: PostgreSQL turns a NOT EXISTS
    into a hashed sub-plan that reads every policy-scope row (7 ms with 10,000 policies) before the first row of a
    page, while a scalar count is evaluated only for the rows the page shows (after the sort), one index probe
    each."""
    if visibility.unrestricted:
        return Q()
    through = policy_model().scopes.through.objects
    outside = (
        through.filter(responsepolicy_id=OuterRef("pk"))
        .exclude(scope_id__in=visibility.held_ids)
        # COUNT as a plain function, not an aggregate: no GROUP BY, so a policy with no scope outside counts 0.
        .annotate(count=Func(F("pk"), function="COUNT"))
        .values("count")
    )
    condition = Q(Exact(Subquery(outside, output_field=IntegerField()), 0))
    if visibility.group_ids:
        condition |= Q(created_by__in=role_members(visibility))
    return condition
