"""A small world of scopes for the scope tests (issue 10 §3): a person limited to the ``prod`` scope, and policies
each visible to them by one of KCS's rules, read-only, or not at all."""

from __future__ import annotations

from dataclasses import dataclass

from kcs.users import profile_of
from policies.models import ResponsePolicy, Scope
from tests.factories import ResponsePolicyFactory, ScopeFactory, UserFactory, global_scope


def limit_to(user, scopes) -> None:
    """Narrow ``user`` to ``scopes`` (the per-person limit of the user form)."""
    profile_of(user).scopes.set(scopes)


@dataclass
class World:
    global_scope: Scope
    prod: Scope
    staging: Scope
    prod_officer: object  # an IS officer limited to prod
    admin: object  # an IS administrator (another role: their policies are not the officer's by rule (a))
    peer: object  # another IS officer (not limited): shares the officer's role, rule (a)
    in_prod: ResponsePolicy  # prod only, by the admin: visible (c) and editable
    mixed: ResponsePolicy  # prod and staging, by the admin: visible (c) alone, read-only
    in_staging: ResponsePolicy  # staging, by the admin: not visible
    everywhere: ResponsePolicy  # Global, by the admin: not visible
    by_peer: ResponsePolicy  # staging, by the peer: visible (a) and editable


def build_world() -> World:
    everything = global_scope()
    prod = ScopeFactory(name="prod", clusters=["prod-*"])
    staging = ScopeFactory(name="staging", clusters=["staging-*"])
    prod_officer = UserFactory(username="prod-officer", groups=["IS officer"])
    limit_to(prod_officer, [prod])
    admin = UserFactory(username="admin-author", groups=["IS administrator"])
    peer = UserFactory(username="peer-officer", groups=["IS officer"])

    def policy(name, scopes, author):
        return ResponsePolicyFactory(name=name, scopes=scopes, created_by=author)

    return World(
        global_scope=everything,
        prod=prod,
        staging=staging,
        prod_officer=prod_officer,
        admin=admin,
        peer=peer,
        in_prod=policy("Prod criticals", [prod], admin),
        mixed=policy("Prod and staging", [prod, staging], admin),
        in_staging=policy("Staging only", [staging], admin),
        everywhere=policy("Everywhere", [everything], admin),
        by_peer=policy("Peer's staging", [staging], peer),
    )
