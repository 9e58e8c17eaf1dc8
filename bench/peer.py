"""KCS Response beside Prometheus Alertmanager: the same findings, the same load, the same webhook receiver.

Each system in turn is started on this machine (Alertmanager with a temporary config and data directory; KCS as
gunicorn 2 workers x 4 threads + one Celery worker on PostgreSQL and Redis), then gets the same load of single
findings, each delivered to one local webhook receiver that notes when each finding arrives:

1. first: right after the system is up (ready endpoint answers, Celery worker answers a ping), one finding; its
   POST -> webhook latency;
2. steady: --rate findings/s for --seconds (open loop: sent at fixed times whatever the replies take); p50 and p99 of
   POST -> webhook latency (from just before the POST to the receiver's arrival time);
3. burst: --burst POSTs from --clients concurrent clients, as fast as they go; messages/s at the receiver
   = delivered / (last arrival - first POST).

Alertmanager routes every alert into a group of its own (group_by: ['...'], group_wait 0s) to a webhook without
send_resolved; KCS has one response policy (critical vulnerabilities, Global scope) with one webhook integration.
Every finding is critical, with its own id, image and fingerprint. "missing" counts findings posted but never received
within the timeout (plus any whose POST failed). All traffic stays on 127.0.0.1.

Notes under the table: CPU time per steady finding by part (web, worker, PostgreSQL backends, Alertmanager; read
from /proc, so it holds even when other work shares the machine), and for KCS the median time between its own
database timestamps (received -> evaluated -> notification claimed -> sent). Exit status 1 when anything went missing,
2 when Alertmanager is not installed.

    apt-get install -y prometheus-alertmanager     (for this bench only; not a dependency of the product)
    .venv/bin/python bench/peer.py                 (needs PostgreSQL and Redis on 127.0.0.1)
    .venv/bin/python bench/peer.py --seconds 10 --rate 50 --burst 1000 --clients 8 --only kcs|alertmanager
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    bench_env,
    celery_worker,
    critical_finding,
    gunicorn,
    make_token,
    percentile,
    recreate_database,
)

TARGETS = "KCS targets: first <= 100 ms, p50 <= 8 ms, p99 <= 25 ms, burst >= 500 msg/s"
STEADY_THREADS = 8  # the open-loop sender's pool; at 50/s with replies in tens of ms, two or three are busy
POST_TIMEOUT = 10  # seconds, per request
DELIVERY_TIMEOUT = 30  # seconds after the last POST of a phase before what has not arrived counts as missing
START_TIMEOUT = 60  # seconds for a system to come up
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """One webhook receiver on loopback for both systems: ``/kcs`` and ``/alertmanager``, each finding's arrival
    noted (perf_counter, the sender's clock) by the unique key it carries."""

    def __init__(self):
        self.arrivals: dict[str, float] = {}
        self.messages = 0
        self.duplicates = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; without this, Nagle + delayed ACK add 40 ms to each answer.
            disable_nagle_algorithm = True

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.perf_counter()
                try:
                    body = json.loads(raw)
                    if self.path.startswith("/kcs"):  # the default webhook body: {"events": [{"finding_id": …}]}
                        keys = [event["finding_id"] for event in body["events"]]
                    else:  # Alertmanager's webhook: {"alerts": [{"labels": {"finding": …}}]}
                        keys = [alert["labels"]["finding"] for alert in body["alerts"]]
                except (ValueError, KeyError, TypeError):
                    keys = []
                with receiver.lock:
                    receiver.messages += 1
                    for key in keys:
                        if key in receiver.arrivals:
                            receiver.duplicates += 1
                        else:
                            receiver.arrivals[key] = now
                self.send_response(200 if keys else 400)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, keys: list[str], timeout: float) -> None:
        """Return when every key has arrived or ``timeout`` seconds have passed."""
        deadline = time.perf_counter() + timeout
        pending = list(keys)
        while pending and time.perf_counter() < deadline:
            with self.lock:
                pending = [key for key in pending if key not in self.arrivals]
            if pending:
                time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class System:
    name: str
    post: Callable[[requests.Session, str, int], None]  # raises on failure
    log: Callable[[], str] = lambda: ""  # the system's own recent log lines, if it keeps one


@dataclass
class Row:
    system: str
    ready_s: float = 0.0
    first_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    burst_rate: float | None = None
    posted: int = 0
    missing: int = 0
    missing_by_phase: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    log_tail: str = ""  # the system's own log when something went missing

    def count(self, phase: str, posted: int, missing: int) -> None:
        self.posted += posted
        self.missing += missing
        self.missing_by_phase[phase] = missing


def image(i: int, key: str) -> tuple[str, str, str]:
    return "registry.example.com", f"peer/app-{key}", f"1.{i % 100}"


# --- KCS Response -------------------------------------------------------------------------------------------------


@contextmanager
def kcs(receiver: Receiver) -> Iterator[tuple[System, float]]:
    env = bench_env("kcs_peer_bench", broker_db=11)
    env["KCS_ALLOW_PRIVATE_DESTINATIONS"] = "true"  # the receiver is on loopback
    recreate_database(env)
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-n", env["CELERY_BROKER_URL"].rsplit("/", 1)[1], "flushdb"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=10,
    )
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
    import django

    django.setup()
    from django.db import connections

    from kcs.celery import app
    from notifications.models import NotificationIntegration
    from policies.models import NotificationMethod, ResponsePolicy, Scope

    hook = NotificationIntegration.objects.create(
        name="peer bench hook", kind="webhook", config={"url": f"{receiver.base}/kcs", "auth": "none"}
    )
    policy = ResponsePolicy.objects.create(name="peer bench", trigger="critical_vulnerabilities", repeat_interval=0)
    policy.scopes.set([Scope.objects.get(is_global=True)])
    NotificationMethod.objects.create(policy=policy, integration=hook)
    token = make_token(env)
    connections.close_all()
    headers = {"Authorization": f"Token {token}"}

    started = time.perf_counter()
    with celery_worker(env) as worker, gunicorn(env, port=free_port()) as base:
        deadline = time.perf_counter() + START_TIMEOUT
        while not _answers(f"{base}/readyz"):
            if time.perf_counter() > deadline:
                raise RuntimeError("KCS /readyz did not answer 200")
            time.sleep(0.05)
        while not app.control.ping(timeout=0.5):
            if worker.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("the Celery worker did not start")
        ready = time.perf_counter() - started

        def post(session: requests.Session, key: str, i: int) -> None:
            registry, repository, tag = image(i, key)
            finding = critical_finding(key, registry, repository, tag)
            answer = session.post(f"{base}/api/v1/events/", json=finding, headers=headers, timeout=POST_TIMEOUT)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"KCS POST answered {answer.status_code}: {answer.text[:200]}")

        yield System("KCS Response", post), ready


def kcs_breakdown(keys: list[str]) -> str:
    """Where a finding's time goes inside KCS, from the database's own timestamps (medians over ``keys``)."""
    from events.models import SecurityEvent
    from notifications.models import Notification

    events = {e.uid: e for e in SecurityEvent.objects.filter(uid__in=keys).select_related("batch")}
    notes = {}
    for n in Notification.objects.filter(events__uid__in=keys).prefetch_related("events"):
        for event in n.events.all():
            notes[event.uid] = n
    stored, created, claimed, sent = [], [], [], []
    for key, event in events.items():
        n = notes.get(key)
        if not (event.evaluated_at and n and n.claimed_at and n.sent_at):
            continue
        stored.append((event.evaluated_at - event.received_at).total_seconds() * 1000)
        created.append((n.created_at - event.received_at).total_seconds() * 1000)
        claimed.append((n.claimed_at - n.created_at).total_seconds() * 1000)
        sent.append((n.sent_at - n.claimed_at).total_seconds() * 1000)
    if not stored:
        return "no complete records"
    med = statistics.median
    return (
        f"received -> evaluated {med(stored):.1f} ms, received -> notification row {med(created):.1f} ms, "
        f"row -> claimed by deliver {med(claimed):.1f} ms, claimed -> sent {med(sent):.1f} ms (medians, n={len(stored)})"
    )


# --- Alertmanager -------------------------------------------------------------------------------------------------


def alertmanager_binary() -> str | None:
    for candidate in ALERTMANAGER_BINARIES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


ALERTMANAGER_CONFIG = """\
route:
  receiver: bench
  group_by: ['...']        # every alert is a group of its own
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: bench
    webhook_configs:
      - url: {url}
        send_resolved: false
"""


@contextmanager
def alertmanager(receiver: Receiver, binary: str) -> Iterator[tuple[System, float]]:
    workdir = Path(tempfile.mkdtemp(prefix="peer-alertmanager-"))
    config = workdir / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG.format(url=f"{receiver.base}/alertmanager"))
    log = (workdir / "alertmanager.log").open("wb")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no cluster: no gossip, no peer wait
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.perf_counter() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Alertmanager exited ({process.returncode}):\n{_tail(workdir / 'alertmanager.log')}"
                )
            if _answers(f"{base}/-/ready"):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"Alertmanager was not ready:\n{_tail(workdir / 'alertmanager.log')}")
            time.sleep(0.05)
        ready = time.perf_counter() - started

        def post(session: requests.Session, key: str, i: int) -> None:
            registry, repository, tag = image(i, key)
            alert = {
                "labels": {
                    "alertname": "CriticalVulnerability",
                    "severity": "critical",
                    "finding": key,
                    "image": f"{registry}/{repository}:{tag}",
                    "package": "libfoo",
                    "cluster": "prod-1",
                    "namespace": "shop",
                },
                "annotations": {
                    "summary": f"libfoo: heap overflow ({key})",
                    "installed_version": "1.0.0",
                    "fixed_version": "1.0.1",
                    "cvss": "9.8",
                },
                "startsAt": datetime.now(UTC).isoformat(),
            }
            answer = session.post(f"{base}/api/v2/alerts", json=[alert], timeout=POST_TIMEOUT)
            if answer.status_code != 200:
                raise RuntimeError(f"Alertmanager POST answered {answer.status_code}: {answer.text[:200]}")

        yield System("Alertmanager", post, lambda: _tail(workdir / "alertmanager.log")), ready
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- CPU accounting -----------------------------------------------------------------------------------------------


def cpu_by_part(database: str = "kcs_peer_bench") -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each process of the systems under test: this bench's child processes (web,
    worker, alertmanager) and the PostgreSQL backends connected to ``database``. Linux /proc only; empty elsewhere.

    On a machine shared with other work, CPU time per finding says more than latency does.
    """
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parents: dict[int, int] = {}
    stats: dict[int, tuple[str, float]] = {}
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return {}
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
        parents[pid] = int(fields[1])
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        if "celery" in cmdline:
            part = "worker"
        elif "gunicorn" in cmdline:
            part = "web"
        elif "alertmanager" in cmdline:
            part = "alertmanager"
        elif cmdline.startswith("postgres:") and f" {database} " in cmdline:
            part = "postgres"
        else:
            part = ""
        stats[pid] = (part, seconds)
    me = os.getpid()

    def ours(pid: int) -> bool:
        for _ in range(50):
            pid = parents.get(pid, 0)
            if pid == me:
                return True
            if pid <= 1:
                return False
        return False

    return {
        pid: (part, seconds) for pid, (part, seconds) in stats.items() if part and (part == "postgres" or ours(pid))
    }


def cpu_per_finding(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], findings: int) -> str:
    used: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        used[part] = used.get(part, 0.0) + seconds - before.get(pid, (part, 0.0))[1]
    if not used or not findings:
        return "not available"
    parts = ", ".join(f"{part} {seconds * 1000 / findings:.1f} ms" for part, seconds in sorted(used.items()))
    return f"{parts}; total {sum(used.values()) * 1000 / findings:.1f} ms"


# --- load ---------------------------------------------------------------------------------------------------------


class Sender:
    """Posts findings through ``system``, one requests session per thread; notes when each POST started."""

    def __init__(self, system: System):
        self.system = system
        self.started: dict[str, float] = {}  # key -> perf_counter just before the POST, for POSTs that succeeded
        self.errors: list[str] = []
        self.local = threading.local()

    def send(self, key: str, i: int) -> float:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        started = time.perf_counter()
        try:
            self.system.post(session, key, i)
        except (requests.RequestException, RuntimeError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        else:
            self.started[key] = started
        return started


def latencies(sender: Sender, receiver: Receiver, keys: list[str]) -> tuple[list[float], int]:
    """POST -> arrival in ms for the keys that arrived, and how many of ``keys`` did not."""
    with receiver.lock:
        arrived = {k: receiver.arrivals[k] for k in keys if k in receiver.arrivals and k in sender.started}
    return [(arrived[k] - sender.started[k]) * 1000 for k in keys if k in arrived], len(keys) - len(arrived)


def first(system: System, receiver: Receiver, run: str, row: Row) -> None:
    sender = Sender(system)
    keys = [f"{run}-first-0"]
    sender.send(keys[0], 0)
    receiver.wait_for([k for k in keys if k in sender.started], DELIVERY_TIMEOUT)
    values, missing = latencies(sender, receiver, keys)
    row.first_ms = values[0] if values else None
    row.count("first", 1, missing)
    row.notes += sender.errors[:3]


def steady(system: System, receiver: Receiver, run: str, rate: float, seconds: float, row: Row) -> list[str]:
    sender = Sender(system)
    total = round(rate * seconds)
    keys = [f"{run}-steady-{i}" for i in range(total)]
    lags: list[float] = []
    pool = ThreadPoolExecutor(max_workers=STEADY_THREADS, thread_name_prefix="steady")

    def send_at(key: str, i: int, due: float) -> None:
        lags.append(sender.send(key, i) - due)

    try:
        start = time.perf_counter() + 0.05
        for i, key in enumerate(keys):  # an even schedule, whatever each request takes
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send_at, key, i, due)
    except BaseException:  # Ctrl-C: drop what is not sent yet
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    receiver.wait_for([k for k in keys if k in sender.started], DELIVERY_TIMEOUT)
    values, missing = latencies(sender, receiver, keys)
    if values:
        row.p50_ms, row.p99_ms = percentile(values, 50), percentile(values, 99)
    row.count("steady", total, missing)
    if lags and max(lags) > 0.05:
        row.notes.append(f"steady: the sender fell behind its schedule by up to {max(lags) * 1000:.0f} ms")
    row.notes += [f"steady: {e}" for e in sender.errors[:3]]
    return keys


def burst(system: System, receiver: Receiver, run: str, count: int, clients: int, row: Row) -> None:
    sender = Sender(system)
    keys = [f"{run}-burst-{i}" for i in range(count)]
    work = iter(enumerate(keys))
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            with lock:
                item = next(work, None)
            if item is None:
                return
            sender.send(item[1], item[0])

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.perf_counter() + max(60.0, count * POST_TIMEOUT / clients)
        for thread in threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
    finally:
        stop.set()
    posted = time.perf_counter()
    receiver.wait_for([k for k in keys if k in sender.started], DELIVERY_TIMEOUT)
    _, missing = latencies(sender, receiver, keys)
    with receiver.lock:
        arrivals = [receiver.arrivals[k] for k in keys if k in receiver.arrivals]
    if sender.started:
        first_post = min(sender.started.values())
        last = f"last delivery {max(arrivals) - first_post:.2f} s" if arrivals else "nothing delivered"
        row.notes.append(
            f"burst: {len(sender.started)} POSTs took {posted - first_post:.2f} s "
            f"({len(sender.started) / (posted - first_post):.0f}/s), {last}"
        )
        if arrivals:
            row.burst_rate = len(arrivals) / (max(arrivals) - first_post)
    row.count("burst", count, missing)
    row.notes += [f"burst: {e}" for e in sender.errors[:3]]


def measure(name: str, start, receiver: Receiver, args: argparse.Namespace) -> Row:
    row = Row(name)
    run = uuid.uuid4().hex[:8]
    print(f"{name}: starting…", flush=True)
    with start(receiver) as (system, ready):
        row.ready_s = ready
        first(system, receiver, run, row)
        print(f"{name}: up in {ready:.2f} s; first finding {_ms(row.first_ms)} ms; steady load…", flush=True)
        cpu_before = cpu_by_part()
        keys = steady(system, receiver, run, args.rate, args.seconds, row)
        cpu = cpu_per_finding(cpu_before, cpu_by_part(), len(keys))
        backlog = (
            f" ({row.missing_by_phase['steady']} not delivered yet: low)" if row.missing_by_phase["steady"] else ""
        )
        row.notes.append(f"steady, CPU time per finding posted{backlog}: {cpu}")
        if name == "KCS Response":
            row.notes.append(f"steady, inside KCS: {kcs_breakdown(keys)}")
        print(f"{name}: burst…", flush=True)
        burst(system, receiver, run, args.burst, args.clients, row)
        if row.missing:
            row.log_tail = system.log()
    return row


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.rate:g} findings/s for {args.seconds:g} s, then a burst of {args.burst} POSTs from {args.clients} "
        f"clients; one finding per POST; {os.cpu_count()} CPUs shared by everything (load, receiver, systems)"
    )
    header = f"{'system':<13} | {'up (s)':>6} | {'first (ms)':>10} | {'p50 (ms)':>8} | {'p99 (ms)':>8} | "
    header += f"{'burst (msg/s)':>13} | missing"
    print(header)
    print("-" * len(header))
    for row in rows:
        burst_rate = "-" if row.burst_rate is None else f"{row.burst_rate:.3g}"
        print(
            f"{row.system:<13} | {row.ready_s:>6.2f} | {_ms(row.first_ms):>10} | {_ms(row.p50_ms):>8} | "
            f"{_ms(row.p99_ms):>8} | {burst_rate:>13} | {row.missing} of {row.posted}"
        )
    print(TARGETS)
    for row in rows:
        if row.system == "KCS Response":
            checks = [
                ("first", row.first_ms, 100, True),
                ("p50", row.p50_ms, 8, True),
                ("p99", row.p99_ms, 25, True),
                ("burst", row.burst_rate, 500, False),
            ]
            verdicts = [
                f"{label} {'met' if value is not None and (value <= bound if upper else value >= bound) else 'MISSED'}"
                for label, value, bound, upper in checks
            ]
            print("KCS: " + ", ".join(verdicts) + ("" if row.missing == 0 else f", {row.missing} MISSING"))
    for row in rows:
        if row.missing:
            by_phase = ", ".join(f"{phase} {n}" for phase, n in row.missing_by_phase.items())
            row.notes.insert(0, f"missing (not received {DELIVERY_TIMEOUT} s after the phase's last POST): {by_phase}")
        for note in row.notes:
            print(f"  {row.system}: {note}")
        if row.log_tail:
            print(f"  {row.system}: last log lines:\n" + "\n".join(f"    {line}" for line in row.log_tail.splitlines()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="steady load duration (default 30)")
    parser.add_argument("--rate", type=float, default=50, help="steady findings per second (default 50)")
    parser.add_argument("--burst", type=int, default=1000, help="POSTs in the burst (default 1000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the burst (default 8)")
    parser.add_argument("--only", choices=("kcs", "alertmanager"), help="run one system only")
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.burst < 1 or args.clients < 1:
        parser.error("--rate and --seconds must be > 0, --burst and --clients >= 1")

    binary = None
    if args.only != "kcs":
        binary = alertmanager_binary()
        if binary is None:
            print(
                "prometheus-alertmanager is not installed (needed for this bench only, not by KCS Response).\n"
                "Install it with:  apt-get update && apt-get install -y prometheus-alertmanager\n"
                "or run only KCS:  .venv/bin/python bench/peer.py --only kcs",
                file=sys.stderr,
            )
            return 2

    def stop(signum, frame):  # SIGTERM too unwinds the with-blocks, which stop the child processes
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    receiver = Receiver()
    rows = []
    try:
        if args.only != "kcs":
            rows.append(
                measure("Alertmanager", lambda r: alertmanager(r, binary), receiver, args)  # type: ignore[arg-type]
            )
        if args.only != "alertmanager":
            rows.append(measure("KCS Response", kcs, receiver, args))
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        return 130
    finally:
        receiver.close()
    report(rows, args)
    if receiver.duplicates:
        print(f"  the receiver got {receiver.duplicates} duplicate deliveries")
    return 0 if all(row.missing == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
