"""Ingest throughput of POST /api/v1/events/ under gunicorn (2 workers) on PostgreSQL.

Prints: events/s through 1,000-event batch POSTs from 4 concurrent clients, the latency of one 1,000-event POST
from a single client, requests/s and latency of single-event POSTs, and raw PostgreSQL COPY of event-shaped rows
for comparison. Targets: >= 10,000 events/s batched, >= 300 req/s
single, p50 <= 150 ms per 1,000-event batch.

    .venv/bin/python bench/ingest.py            (needs PostgreSQL and Redis on 127.0.0.1)
"""

from __future__ import annotations

import http.client
import io
import json
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, describe, gunicorn, make_token, recreate_database  # noqa: E402

BATCH = 1000
BATCH_REQUESTS = 60
LATENCY_FROM = 40  # the last 20 batches are posted one at a time, for the latency of a single report
SINGLE_REQUESTS = 1500
CLIENTS = 4


def event(i: int) -> dict:
    return {
        "type": "vulnerability",
        "severity": ("critical", "high", "medium", "low")[i % 4],
        "title": f"libfoo: heap overflow in parser ({i})",
        "source": "trivy",
        "registry": "registry.example.com",
        "repository": f"team-{i % 20}/service",
        "tag": "1.2.3",
        "digest": "sha256:" + f"{i:064x}",
        "finding_id": f"CVE-2026-{i:05d}",
        "package": "libfoo",
        "installed_version": "1.0.0",
        "fixed_version": "1.0.1",
        "cvss": 7.5,
        "description": "A heap overflow in libfoo's parser allows remote code execution. " * 3,
        "details": {"PrimaryURL": f"https://avd.aquasec.com/nvd/cve-2026-{i:05d}", "Status": "fixed"},
    }


def _client_process(args: tuple[str, str, list[bytes]]) -> list[float]:
    """One client process: POST its bodies over one keep-alive connection; returns latencies in ms."""
    base, token, bodies = args
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    latencies = []
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", "/api/v1/events/", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 201:
            raise SystemExit(f"unexpected {response.status}: {payload[:300]!r}")
    conn.close()
    return latencies


def run_clients(base: str, token: str, bodies: list[bytes], clients: int = CLIENTS) -> tuple[float, list[float]]:
    """POST every body from ``clients`` processes (no GIL contention in the load generator).

    Returns (wall seconds, latencies in ms)."""
    shares = [(base, token, bodies[i::clients]) for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(_client_process, shares)
        wall = time.perf_counter() - started
    return wall, [latency for share in results for latency in share]


def copy_baseline(env: dict[str, str], rows: int = 50_000) -> float:
    """Raw COPY of event-shaped rows into a scratch table: the ceiling this machine allows."""
    import psycopg

    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy AS SELECT * FROM events_securityevent WITH NO DATA")
        columns = (
            "type",
            "severity",
            "title",
            "description",
            "source",
            "registry",
            "repository",
            "tag",
            "finding_id",
            "package",
            "installed_version",
            "fixed_version",
            "details",
            "fingerprint",
            "batch_id",
            "occurred_at",
            "received_at",
            "id",
        )
        buffer = io.StringIO()
        for i in range(rows):
            e = event(i)
            buffer.write(
                "\t".join(
                    [
                        e["type"],
                        "5",
                        e["title"],
                        e["description"],
                        "trivy",
                        e["registry"],
                        e["repository"],
                        e["tag"],
                        e["finding_id"],
                        e["package"],
                        e["installed_version"],
                        e["fixed_version"],
                        json.dumps(e["details"]),
                        f"{i:064x}",
                        "00000000-0000-0000-0000-000000000000",
                        "2026-11-26 10:00:00+00",
                        "2026-11-26 10:00:00+00",
                        str(i),
                    ]
                )
                + "\n"
            )
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bench_copy ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
    return rows / elapsed


def main() -> None:
    env = bench_env("kcs_bench_ingest")
    recreate_database(env)
    token = make_token(env)
    batch_bodies = [json.dumps([event(r * BATCH + i) for i in range(BATCH)]).encode() for r in range(BATCH_REQUESTS)]
    single_bodies = [json.dumps(event(10_000_000 + i)).encode() for i in range(SINGLE_REQUESTS)]
    print(f"batch body: {len(batch_bodies[0]) / 1024:.0f} KiB per {BATCH} events")
    with gunicorn(env) as base:
        run_clients(base, token, batch_bodies[:2])  # warm-up (connections, caches)
        wall, latencies = run_clients(base, token, batch_bodies[2:LATENCY_FROM])
        events = (LATENCY_FROM - 2) * BATCH
        print(
            f"batch POST, {CLIENTS} concurrent clients: {events / wall:,.0f} events/s "
            f"({len(latencies)} requests of {BATCH}); latency {describe(latencies)}"
        )
        _, latencies = run_clients(base, token, batch_bodies[LATENCY_FROM:], clients=1)
        print(
            f"batch POST, one client (a CI job posting its report): latency {describe(latencies)} "
            f"per {BATCH}-event request"
        )
        wall, latencies = run_clients(base, token, single_bodies)
        print(f"single POST: {len(single_bodies) / wall:,.0f} requests/s; latency {describe(latencies)}")
    print(f"raw PostgreSQL COPY baseline: {copy_baseline(env):,.0f} rows/s")


if __name__ == "__main__":
    main()
