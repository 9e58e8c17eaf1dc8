"""Matching speed of the policy engine: one event against 10,000 enabled policies (target: <= 1 ms on average).

Pure in-memory matching (what the evaluation task does per event once the index is cached), for 10 and 10,000
policies spread over the seven triggers and 300 scopes (a tenth on Global), plus the time to compile the index.

    .venv/bin/python bench/engine.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
os.environ.setdefault("KCS_VAR_DIR", "/tmp/kcs-bench-engine-var")

import django  # noqa: E402

django.setup()

from events.models import EventType, SecurityEvent, Severity  # noqa: E402
from policies.engine import CompiledPolicy, CompiledScope, PolicyIndex  # noqa: E402
from policies.models import TRIGGER_DEFAULT_SEVERITY, Trigger  # noqa: E402

EVENTS = 20_000
SCOPES = 300
rng = random.Random(7)
CLUSTERS = [f"prod-{region}-{n}" for region in ("eu", "us", "ap") for n in range(10)] + ["stage-1", "dev-1"]
NAMESPACES = ["payments", "billing", "web", "kube-system", "auth", "search", "batch", "ml"]
REGISTRIES = ["registry.example.com", "docker.io", "ghcr.io", "quay.io"]


def scopes() -> list[CompiledScope]:
    built = [CompiledScope.build(1, "Global", True, {})]
    for sid in range(2, SCOPES + 2):
        patterns = {}
        if rng.random() < 0.7:
            patterns["clusters"] = [rng.choice(["prod-*", "prod-eu-*", "stage-*", f"prod-us-{rng.randrange(10)}"])]
        if rng.random() < 0.5:
            patterns["namespaces"] = rng.sample(NAMESPACES, 2)
        if rng.random() < 0.3:
            patterns["registries"] = [rng.choice(REGISTRIES)]
        if rng.random() < 0.3:
            patterns["repositories"] = [f"team-{rng.randrange(40)}/*"]
        built.append(CompiledScope.build(sid, f"scope {sid}", False, patterns))
    return built


def policies(count: int) -> list[CompiledPolicy]:
    triggers = list(Trigger)
    made = []
    for pid in range(1, count + 1):
        trigger = rng.choice(triggers)
        threshold = rng.choice(list(Severity)) if trigger in TRIGGER_DEFAULT_SEVERITY else None
        scope_ids = (1,) if rng.random() < 0.1 else tuple(rng.sample(range(2, SCOPES + 2), rng.choice((1, 1, 2))))
        made.append(
            CompiledPolicy(
                id=pid,
                name=f"policy {pid}",
                trigger=trigger,
                min_severity=threshold,
                repeat_interval=14400,
                integration_ids=(1,),
                scope_ids=scope_ids,
            )
        )
    return made


def events(count: int) -> list[SecurityEvent]:
    return [
        SecurityEvent(
            type=rng.choice(list(EventType)),
            severity=rng.choice(list(Severity)),
            title="x",
            cluster=rng.choice(CLUSTERS),
            namespace=rng.choice(NAMESPACES),
            registry=rng.choice(REGISTRIES),
            repository=f"team-{rng.randrange(40)}/svc-{rng.randrange(5)}",
        )
        for _ in range(count)
    ]


def measure(count: int, compiled_scopes, sample) -> None:
    started = time.perf_counter()
    index = PolicyIndex(policies(count), compiled_scopes)
    build_ms = (time.perf_counter() - started) * 1000
    timings, matched = [], 0
    for event in sample:
        started = time.perf_counter()
        found = index.match(event)
        timings.append((time.perf_counter() - started) * 1e6)
        matched += len(found)
    timings.sort()
    started = time.perf_counter()
    batch = index.match_batch(sample[:1000])
    batch_ms = (time.perf_counter() - started) * 1000
    print(
        f"{count:>6} enabled policies: match() mean {statistics.fmean(timings):7.1f} µs, "
        f"p50 {timings[len(timings) // 2]:6.1f} µs, p99 {timings[int(len(timings) * 0.99)]:7.1f} µs, "
        f"{matched / len(sample):5.1f} policies matched per event; "
        f"match_batch(1,000 events) {batch_ms:6.1f} ms ({len(batch)} policies acting); index build {build_ms:6.1f} ms"
    )


def main() -> None:
    compiled_scopes = scopes()
    sample = events(EVENTS)
    print(f"engine bench: {EVENTS} events, {SCOPES} scopes + Global, Python {sys.version.split()[0]}")
    for count in (10, 1_000, 10_000):
        measure(count, compiled_scopes, sample)
    print("target: mean match() <= 1 ms (1000 µs) with 10,000 policies")


if __name__ == "__main__":
    main()
