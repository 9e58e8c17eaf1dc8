"""Silence matching at scale, on PostgreSQL: with 1,000 active silences, ``SilenceIndex.matching()`` per event and
the time to build the index from the database (what a process pays once after each change of a silence).

The silences are a realistic mix (:func:`populate`): most name a finding or a team's repositories (filed by their
literal text), a few only a source, a type and a severity ceiling, or a glob with no literal prefix (tested for
every event). For comparison, the same events are also matched by testing every silence in turn.

Builds a database of its own (``kcs_silence_bench``), migrated afresh on each run.

    .venv/bin/python bench/silences.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, recreate_database  # noqa: E402

SILENCES = 1_000
EVENTS = 20_000
BUILDS = 20
NAMESPACES = ["payments", "billing", "web", "kube-system", "auth", "search", "batch", "ml"]
REGISTRIES = ["registry.example.com", "docker.io", "ghcr.io", "quay.io"]
CLUSTERS = ["prod-eu-0", "prod-eu-1", "prod-us-2", "prod-ap-3", "stage-1", "dev-1"]


def matchers(rng: random.Random) -> dict[str, str]:
    """One silence's matchers, drawn from what teams silence in practice."""
    roll = rng.random()
    if roll < 0.4:  # one finding, maybe in one team's images
        found = {"finding_id": f"CVE-2024-{rng.randrange(5000)}"}
        if rng.random() < 0.5:
            found["repository"] = f"team-{rng.randrange(40)}/*"
        return found
    if roll < 0.7:  # a team's images below a severity
        return {"repository": f"team-{rng.randrange(40)}/svc-{rng.randrange(5)}", "max_severity": "medium"}
    if roll < 0.8:  # a family of findings
        return {"finding_id": f"CVE-2024-{rng.randrange(10, 50)}*", "namespace": rng.choice(NAMESPACES)}
    if roll < 0.9:  # a noisy source on a cluster
        return {"source": rng.choice(["falco", "grype", "harbor"]), "cluster": rng.choice(CLUSTERS)}
    # no literal text at all: tested for every event
    return {"cluster": f"*-{rng.choice(['eu', 'us', 'ap'])}-*", "type": "misconfiguration", "max_severity": "low"}


def populate(count: int, rng: random.Random) -> None:
    """``count`` active silences, half of them for one policy id (stored directly: the bench measures matching)."""
    from django.utils import timezone

    from kcs import revisions
    from policies import silence_index
    from policies.models import Silence

    now = timezone.now()
    Silence.objects.bulk_create(
        Silence(
            matchers=matchers(rng),
            policies=[rng.randrange(1, 10_000)] if rng.random() < 0.5 else [],
            starts_at=now - timedelta(minutes=rng.randrange(1, 600)),
            ends_at=now + timedelta(hours=rng.randrange(1, 72)),
            comment="bench",
        )
        for _ in range(count)
    )
    revisions.renew_revision(silence_index.SILENCE_INDEX)  # bulk_create sends no signal


def sample_events(count: int, rng: random.Random) -> list:
    from events.models import EventType, SecurityEvent

    return [
        SecurityEvent(
            id=n,
            type=rng.choice([EventType.VULNERABILITY] * 8 + [EventType.MISCONFIGURATION, EventType.RUNTIME]),
            severity=rng.randrange(6),
            title=f"finding {rng.randrange(5000)}",
            source=rng.choice(["trivy"] * 6 + ["grype", "falco", "harbor"]),
            cluster=rng.choice(CLUSTERS),
            namespace=rng.choice(NAMESPACES),
            registry=rng.choice(REGISTRIES),
            repository=f"team-{rng.randrange(40)}/svc-{rng.randrange(5)}",
            tag="1.0",
            digest="",
            finding_id=f"CVE-2024-{rng.randrange(5000)}",
        )
        for n in range(1, count + 1)
    ]


def main() -> None:
    env = bench_env("kcs_silence_bench", broker_db=9)
    recreate_database(env)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "kcs.settings"
    import django

    django.setup()
    from django.utils import timezone

    from policies import silence_index

    rng = random.Random(11)
    populate(SILENCES, rng)
    now = timezone.now()

    builds = []
    for _ in range(BUILDS):
        started = time.perf_counter()
        index = silence_index.build_index(now)
        builds.append((time.perf_counter() - started) * 1000)
    cached = []
    silence_index.get_index(now)
    for _ in range(200):
        started = time.perf_counter()
        silence_index.get_index(now)
        cached.append((time.perf_counter() - started) * 1e6)
    print(
        f"index of {len(index)} active silences: build (one query + compile) mean {statistics.fmean(builds):.1f} ms, "
        f"p50 {statistics.median(builds):.1f} ms; cached get_index() (revision read) mean "
        f"{statistics.fmean(cached):.0f} µs; {len(index.always)} tested for every event"
    )

    events = sample_events(EVENTS, rng)
    timings, found = [], 0
    for event in events:
        started = time.perf_counter()
        matched = index.matching(event, now)
        timings.append((time.perf_counter() - started) * 1e6)
        found += len(matched)
    naive = []
    for event in events[:2000]:
        started = time.perf_counter()
        [s for s in index.silences if s.active_at(now) and s.holds(event)]
        naive.append((time.perf_counter() - started) * 1e6)
    print(
        f"matching() per event, {len(index)} active silences: mean {statistics.fmean(timings):.1f} µs, "
        f"p99 {sorted(timings)[int(len(timings) * 0.99)]:.1f} µs; {found / len(events):.2f} silences hold per event "
        f"(testing every silence in turn: mean {statistics.fmean(naive):.0f} µs)"
    )


if __name__ == "__main__":
    main()
