"""The engine's scope lookup by literal prefix gives exactly the answers of testing every scope."""

from __future__ import annotations

import random

import pytest

from policies.engine import CompiledScope, PolicyIndex
from tests.helpers import GLOBAL, compiled, event, scope

PATTERNS = [
    "prod-*",
    "prod-eu-1",
    "PROD-US-*",
    "*-prod",
    "team-1/*",
    "team-12/*",
    "team-1?/api",
    "shop/[ab]*",
    "registry.example.com",
    "*.example.com",
    "staging",
    "*",
]
VALUES = [
    "prod-eu-1",
    "prod-us-2",
    "dev-prod",
    "team-1/web",
    "team-12/api",
    "team-13/api",
    "team-2/web",
    "shop/api",
    "shop/cart",
    "registry.example.com",
    "mirror.example.com",
    "staging",
    "",
    "Prod-EU-1",
]
FIELDS = ("clusters", "namespaces", "registries", "repositories")


def brute_force(index_scopes: list[CompiledScope], policies, ev) -> list[int]:
    inside = {s.id for s in index_scopes if s.contains(ev)}
    return sorted(p.id for p in policies if p.accepts(ev) and inside & set(p.scope_ids))


def test_prefixed_scopes_are_filed_under_their_most_selective_attribute():
    s = scope(clusters=["prod-*"], repositories=["team-12/*", "team-1/*"])
    assert s.key == ("repository", ("team-1/", "team-12/"))
    assert scope(clusters=["*-prod"]).key is None  # no literal prefix: tested for every event
    assert GLOBAL.key is None


def test_literal_prefixes_are_matched_ignoring_case():
    policy = compiled(scopes=(2,))
    index = PolicyIndex([policy], [GLOBAL, scope(clusters=["PROD-*"])])
    assert [p.id for p in index.match(event(cluster="prod-eu-1"))] == [policy.id]
    assert index.match(event(cluster="dev-1")) == []


@pytest.mark.parametrize("seed", range(5))
def test_lookup_agrees_with_testing_every_scope(seed):
    rng = random.Random(seed)
    scopes = [GLOBAL] + [
        scope(
            id=i, **{name: rng.sample(PATTERNS, rng.choice((1, 2))) for name in rng.sample(FIELDS, rng.choice((1, 2)))}
        )
        for i in range(2, 60)
    ]
    policies = [compiled(id=100 + i, scopes=tuple(rng.sample([s.id for s in scopes], 2))) for i in range(200)]
    index = PolicyIndex(policies, scopes)
    for _ in range(300):
        ev = event(
            cluster=rng.choice(VALUES),
            namespace=rng.choice(VALUES),
            registry=rng.choice(VALUES),
            repository=rng.choice(VALUES),
        )
        assert [p.id for p in index.match(ev)] == brute_force(scopes, policies, ev)
