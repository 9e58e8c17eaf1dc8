"""Latency of POST /api/v1/ingest/trivy/ with a 1,000-vulnerability Trivy report, under gunicorn on PostgreSQL.

Prints: the report size, the adapter's own mapping time, and the HTTP latency (p50/p90/p99) of new reports (1,000
events stored each) and of the same report posted again (1,000 duplicates). Target: new report p50 <= 300 ms.

    .venv/bin/python bench/ingest_trivy.py            (needs PostgreSQL and Redis on 127.0.0.1)
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, describe, gunicorn, make_token, recreate_database  # noqa: E402

VULNERABILITIES = 1000
REPORTS = 30  # distinct scans (new events each)
REPOSTS = 15  # the last report again (all duplicates)
PORT = 8795
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "MEDIUM", "LOW", "LOW", "UNKNOWN"]


def vulnerability(rng: random.Random, i: int) -> dict:
    """A vulnerability as Trivy 0.5x writes it: ids, package, fix, CVSS, references, dates."""
    package = f"lib{rng.choice(['ssl', 'xml2', 'curl', 'expat', 'z', 'png', 'sqlite3', 'krb5'])}{i % 40}"
    return {
        "VulnerabilityID": f"CVE-20{20 + i % 6}-{10000 + i}",
        "PkgID": f"{package}@1.{i % 9}.{i % 13}-r0",
        "PkgName": package,
        "PkgIdentifier": {
            "PURL": f"pkg:apk/alpine/{package}@1.{i % 9}.{i % 13}-r0?arch=x86_64&distro=3.19.1",
            "UID": f"{i:016x}",
        },
        "InstalledVersion": f"1.{i % 9}.{i % 13}-r0",
        "FixedVersion": f"1.{i % 9}.{i % 13 + 1}-r0" if i % 3 else "",
        "Status": "fixed" if i % 3 else "affected",
        "Layer": {"Digest": "sha256:" + f"{i % 7:064x}", "DiffID": "sha256:" + f"{i % 7 + 100:064x}"},
        "SeveritySource": "nvd",
        "PrimaryURL": f"https://avd.aquasec.com/nvd/cve-20{20 + i % 6}-{10000 + i}",
        "DataSource": {"ID": "alpine", "Name": "Alpine Secdb", "URL": "https://secdb.alpinelinux.org/"},
        "Title": f"{package}: out-of-bounds write in the parser when handling crafted input ({i})",
        "Description": (
            "A flaw was found in the parser. A remote attacker could send crafted input that causes an "
            "out-of-bounds write, leading to a crash or possibly code execution. "
        )
        * 2,
        "Severity": SEVERITIES[i % len(SEVERITIES)],
        "CweIDs": ["CWE-787"],
        "VendorSeverity": {"nvd": 3, "redhat": 2},
        "CVSS": {
            "nvd": {
                "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "V3Score": round(rng.uniform(2, 10), 1),
            },
            "redhat": {"V3Vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 7.5},
        },
        "References": [f"https://security.example.org/advisories/{i}/{n}" for n in range(rng.randint(4, 14))],
        "PublishedDate": "2024-03-04T12:15:00Z",
        "LastModifiedDate": "2024-06-10T17:16:00Z",
    }


def report(scan: int) -> bytes:
    rng = random.Random(7)
    vulns = [vulnerability(rng, i) for i in range(VULNERABILITIES)]
    image = "registry.example.com/shop/payments"
    return json.dumps(
        {
            "SchemaVersion": 2,
            "CreatedAt": f"2026-11-20T09:{scan // 60:02d}:{scan % 60:02d}.000000000Z",  # a new scan: new events
            "ArtifactName": f"{image}:2.3.1",
            "ArtifactType": "container_image",
            "Metadata": {
                "OS": {"Family": "alpine", "Name": "3.19.1"},
                "RepoTags": [f"{image}:2.3.1"],
                "RepoDigests": [f"{image}@sha256:{'5d' * 32}"],
            },
            "Results": [
                {
                    "Target": f"{image}:2.3.1 (alpine 3.19.1)",
                    "Class": "os-pkgs",
                    "Type": "alpine",
                    "Vulnerabilities": vulns[:800],
                },
                {"Target": "app/payments", "Class": "lang-pkgs", "Type": "gobinary", "Vulnerabilities": vulns[800:]},
            ],
        }
    ).encode()


def adapter_time(body: bytes) -> float:
    """Milliseconds the Trivy adapter alone takes to map the report (median of 5), in a child process."""
    code = (
        "import django, time, sys; django.setup(); from events.adapters import ADAPTERS; "
        "body = sys.stdin.buffer.read(); times = []\n"
        "for _ in range(5):\n"
        "    t = time.perf_counter(); n = len(ADAPTERS['trivy'].load(body).items); "
        "times.append((time.perf_counter() - t) * 1000)\n"
        f"assert n == {VULNERABILITIES}; print(sorted(times)[2])"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**bench_env("kcs_ing_bench", broker_db=5), "DJANGO_SETTINGS_MODULE": "kcs.settings", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True, cwd=root, env=env, check=True)
    return float(out.stdout)


def post_all(base: str, token: str, bodies: list[bytes], expect: int) -> list[float]:
    session = requests.Session()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    latencies = []
    for body in bodies:
        started = time.perf_counter()
        response = session.post(f"{base}/api/v1/ingest/trivy/", data=body, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != expect:
            raise SystemExit(f"unexpected {response.status_code}: {response.text[:300]}")
    return latencies


def main() -> None:
    env = bench_env("kcs_ing_bench", broker_db=5)
    recreate_database(env)
    token = make_token(env)
    bodies = [report(scan) for scan in range(REPORTS + 2)]
    print(f"report: {VULNERABILITIES} vulnerabilities, {len(bodies[0]) / 1024:.0f} KiB")
    print(f"adapter alone (parse + map): {adapter_time(bodies[0]):.1f} ms")
    with gunicorn(env, port=PORT) as base:
        post_all(base, token, bodies[:2], 201)  # warm-up: connections, caches
        new = post_all(base, token, bodies[2:], 201)
        print(f"new report ({VULNERABILITIES} events stored), {len(new)} POSTs: {describe(new)}")
        again = post_all(base, token, [bodies[-1]] * REPOSTS, 200)
        print(f"same report again ({VULNERABILITIES} duplicates), {len(again)} POSTs: {describe(again)}")
    # Evaluation messages were queued for a worker that this bench does not run; leave the broker db empty.
    broker_db = env["CELERY_BROKER_URL"].rsplit("/", 1)[1]
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-n", broker_db, "flushdb"], check=False, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
