"""Schemathesis against the live API: every operation of ``/api/schema/``, fuzzed as an administrator and as a
scanner, must never answer 5xx nor an answer its schema does not describe.

How it runs: pytest-django's live server (a thread of this process, on the test database, with Celery tasks run
in-process, so an event the fuzzer posts is evaluated and its notifications delivered within the request) answers
the ``schemathesis run`` CLI, a subprocess (its data generation gets the other core). Host names do not resolve here
beyond loopback and nothing connects or sends beyond it (:func:`loopback_only`, on top of the session's guard and
the product's own private-address guard), so whatever webhook, SMTP or syslog destination the fuzzer configures and
tests (``POST /api/v1/integrations/{id}/test/``), nothing leaves the machine and nothing waits on a network.

The database is seeded first (scopes, integrations of each kind, policies, events, notifications, log entries) and
the fuzzer draws path ids (and a policy's scopes and outputs) mostly from the seeded ids, so ``{id}`` operations reach
real rows, not only 404s. Phases: the schema's examples, coverage (boundary and invalid values of every parameter
and field) and fuzzing (``KCS_FUZZ_MAX_EXAMPLES`` cases per operation, default 150); the administrator's run takes
about two minutes, the scanner's (403 everywhere but events) less than one. On failure the message is schemathesis'
report: each failing request as a curl command, the answer, and the server's traceback for a 500.

Knobs (environment): ``KCS_FUZZ_MAX_EXAMPLES``; ``KCS_FUZZ_SEED`` (fixed by default, so CI is repeatable; ``random``
for a new one each run); ``KCS_FUZZ_CHECKS`` (a comma-separated list of schemathesis checks instead of
:data:`CHECKS`, e.g. ``all`` to explore).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from events.models import SecurityEvent
from kcs.models import AuditEntry
from notifications.models import NotificationStatus
from policies.models import ResponsePolicy
from tests.factories import (
    ApiTokenFactory,
    AuditEntryFactory,
    NotificationFactory,
    ScopeFactory,
    UserFactory,
    global_scope,
    make_batch,
    make_integration,
    make_policy,
)

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = int(os.environ.get("KCS_FUZZ_MAX_EXAMPLES", "150"))
SEED = os.environ.get("KCS_FUZZ_SEED", "20261120")
# Checks every answer must pass: no 5xx; body, content type and headers as documented; 401 without a valid token
# (ignored_auth); 405 for methods an operation does not have. Left out on purpose: status_code_conformance (DRF
# answers 400/401/403/404/405/413/415 wherever they apply; listing each on every operation would repeat the README's
# error rules), negative_data_rejection (DRF's fields coerce numbers to strings, and unknown keys are ignored, as
# documented), positive_data_acceptance (rules the schema cannot express: unique names, per-kind settings, known
# ids, bounded dates).
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "ignored_auth",
    "unsupported_method",
)
# Seconds per run: a run that long is stuck. Both runs take about 3 minutes on a quiet machine, several times that
# on a busy one (each API operation added lengthens them).
TIME_LIMIT = 900
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


# --- no traffic beyond loopback ---------------------------------------------------------------------------------
def _loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return str(host).strip("[]").lower() in LOOPBACK_NAMES


@pytest.fixture
def loopback_only(monkeypatch):
    """Names other than loopback do not resolve and datagrams do not leave loopback (the session's guard already
    refuses other connections): the fuzzer's destinations (webhook URLs, SMTP and syslog hosts) cannot reach the
    network, nor even the DNS resolver, and fail at once instead of hanging."""
    real_getaddrinfo = socket.getaddrinfo
    real_sendto = socket.socket.sendto

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"{host!r} does not resolve in the fuzz test (loopback only)")
        return real_getaddrinfo(host, *args, **kwargs)

    def sendto(self, data, *args):
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise OSError(f"the fuzz test refused a datagram to {address!r}")
        return real_sendto(self, data, *args)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "sendto", sendto)


# --- server-side errors ---------------------------------------------------------------------------------------------
class ErrorLog(logging.Handler):
    """Collects the tracebacks the server logs (``django.request`` logs every 500 with its exception)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(f"{record.name}: {record.getMessage()}\n{self.formatter_text(record)}")

    @staticmethod
    def formatter_text(record: logging.LogRecord) -> str:
        return logging.Formatter().formatException(record.exc_info)[-4000:]


@pytest.fixture
def server_errors():
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


# --- what the fuzzer finds in the database --------------------------------------------------------------------------
def seed() -> dict[str, list[int]]:
    """A few of each object behind an ``{id}`` path; returns the ids per dictionary name."""
    global_ = global_scope()
    prod = ScopeFactory(name="Production", clusters=["prod-*"], namespaces=["shop"])
    spare_scope = ScopeFactory(name="Spare", repositories=["team-*/api"])
    hook = make_integration("webhook", "Fuzz hook")
    mail = make_integration("email", "Fuzz mail")  # the system mail backend: Django's test outbox here
    chat = make_integration("telegram", "Fuzz chat")
    syslog = make_integration("syslog", "Fuzz SIEM")
    # What Test tries beyond the factory's defaults: the destinations resolve to nothing here (loopback_only).
    others = [
        make_integration(
            "webhook",
            "Fuzz basic hook",
            config={"url": "http://203.0.113.7:8080/in", "auth": "basic", "username": "kcs", "rate_limit": 2},
            secrets={"password": "pw"},
        ),
        make_integration(
            "email",
            "Fuzz relay",
            config={
                "recipients": ["soc@example.com"],
                "sender": "kcs@example.com",
                "smtp": {"host": "smtp.example.com", "port": 587, "tls": "starttls", "username": "kcs"},
            },
            secrets={"smtp_password": "pw"},
        ),
        make_integration("syslog", "Fuzz TCP SIEM", config={"host": "198.51.100.9", "port": 6514, "protocol": "tcp"}),
        make_integration("teams", "Fuzz Teams"),
    ]
    spare_output = make_integration("slack", "Spare output")
    policy = make_policy("Fuzz criticals", [hook, mail], scopes=[global_, prod])
    make_policy("Fuzz malware", [chat, syslog], trigger="malware", scopes=[prod])
    spare_policy = make_policy("Spare policy", [mail], trigger="runtime_threats", enabled=False)
    batch = make_batch(3, cluster="prod-eu", namespace="shop")
    events = list(SecurityEvent.objects.filter(batch=batch).order_by("id"))
    failed = NotificationFactory(
        integration=hook, policy=policy, policy_name=policy.name, status=NotificationStatus.FAILED, events=events
    )
    sent = NotificationFactory(
        integration=mail,
        policy=policy,
        policy_name=policy.name,
        status=NotificationStatus.SENT,
        sent_at=timezone.now(),
        events=events[:1],
    )
    AuditEntryFactory(object_id=str(policy.pk), object_repr=policy.name)
    AuditEntryFactory(action="create", object_type="integration", object_id=str(hook.pk), source="api")
    ids = {
        "scopes": [global_.pk, prod.pk, spare_scope.pk],
        "integrations": [hook.pk, mail.pk, chat.pk, syslog.pk, spare_output.pk, *(o.pk for o in others)],
        "policies": list(ResponsePolicy.objects.values_list("pk", flat=True)),
        "events": [event.pk for event in events],
        "notifications": [failed.pk, sent.pk],
        "audit": list(AuditEntry.objects.values_list("pk", flat=True)),
    }
    # DELETE draws only from these: what may go (spares) and what must be refused (Global, in use).
    ids["deletable_scopes"] = [spare_scope.pk, global_.pk, prod.pk]
    ids["deletable_integrations"] = [spare_output.pk, hook.pk]
    ids["deletable_policies"] = [spare_policy.pk]
    return ids


def config_toml(ids: dict[str, list[int]], role: str) -> str:
    """schemathesis.toml: cases per operation; dictionaries of seeded ids, bound to each ``{id}`` path (and a
    policy's scopes and outputs) with a probability, so the fuzzer also tries ids that do not exist."""
    lines = [f"[generation]\nmax-examples = {MAX_EXAMPLES}\n"]
    for name, values in ids.items():
        lines.append(f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n")
    prefixes = {
        "events": "/api/v1/events/{id}",
        "scopes": "/api/v1/scopes/{id}",
        "integrations": "/api/v1/integrations/{id}",
        "policies": "/api/v1/response-policies/{id}",
        "notifications": "/api/v1/notifications/{id}",
        "audit": "/api/v1/audit-log/{id}",
    }
    for name, prefix in prefixes.items():
        regex = "^" + prefix.replace("{", "\\\\{").replace("}", "\\\\}")
        lines.append(
            f'[[operations]]\ninclude-path-regex = "{regex}"\nexclude-method = "DELETE"\n'
            f'parameters = {{ "path.id" = {{ dictionary = "{name}", probability = 0.8 }} }}\n'
        )
        if f"deletable_{name}" in ids:
            lines.append(
                f'[[operations]]\ninclude-path-regex = "{regex}"\ninclude-method = "DELETE"\n'
                f'parameters = {{ "path.id" = {{ dictionary = "deletable_{name}", probability = 0.8 }} }}\n'
            )
    lines.append(
        '[[operations]]\ninclude-path-regex = "^/api/v1/response-policies/"\n'
        'parameters = { "body.scopes[*]" = { dictionary = "scopes", probability = 0.7 }, '
        '"body.notification_methods[*]" = { dictionary = "integrations", probability = 0.7 } }\n'
    )
    if role == "scanner":
        # A scanner may send and read events, nothing else: elsewhere every request is the same 403 before its
        # body is read, so a sample of them shows that (the administrator's run fuzzes those operations fully).
        lines.append(
            '[[operations]]\nexclude-path-regex = "^/api/v1/(events|ingest)/"\n'
            f"generation.max-examples = {max(MAX_EXAMPLES // 10, 5)}\nphases.coverage.enabled = false\n"
        )
    return "\n".join(lines)


def run_schemathesis(base_url: str, token: str, workdir, label: str) -> tuple[int, str, float]:
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # straight to loopback
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(workdir.parent / "schemathesis.toml"),
        "run",
        f"{base_url}/api/schema/?format=json",
        "--url",
        base_url,
        "--header",
        f"Authorization: Token {token}",
        # A new connection per request: Django's test server and a kept-alive connection wait 40 ms per answer
        # (Nagle's algorithm against delayed ACKs).
        "--header",
        "Connection: close",
        "--checks",
        os.environ.get("KCS_FUZZ_CHECKS") or ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "too_slow,filter_too_much,data_too_large",
        "--no-color",
        "--output-truncate",
        "false",
        "--report",
        "junit",
        "--report-dir",
        str(workdir),
        "--wait-for-schema",
        "10",
    ]
    if SEED != "random":
        command += ["--seed", SEED]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIME_LIMIT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"schemathesis ({label}) ran over its {TIME_LIMIT} s budget:\n{output[-20000:]}")
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


@pytest.fixture(scope="session")
def postgresql():
    """Before the (session-wide) live server starts: the fuzz test runs on PostgreSQL only."""
    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(
            "the API fuzz test runs on the production database engine (what SQLite accepts differs): run it with "
            "DATABASE_URL=postgres://…, as CI does"
        )


@pytest.mark.parametrize("role", ["admin", "scanner"])
def test_api_answers_every_fuzzed_request_within_its_schema(
    role, postgresql, live_server, loopback_only, server_errors, tmp_path, settings, caplog
):
    caplog.set_level(logging.ERROR, logger="django.request")  # not a line per 400 and 404 in the report
    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = False  # the product's guard as in production, on top of ours
    ids = seed()
    if role == "admin":
        user = UserFactory(username="fuzz-root", superuser=True)
    else:
        user = UserFactory(username="fuzz-scanner", groups=["Scanner"])
    token = ApiTokenFactory(user=user, name="fuzz").key
    (tmp_path / "schemathesis.toml").write_text(config_toml(ids, role))

    code, output, seconds = run_schemathesis(live_server.url, token, tmp_path / role, role)

    (tmp_path / role / "schemathesis.txt").write_text(output)
    print(output[-6000:])
    print(f"schemathesis as {role}: exit {code} in {seconds:.0f} s; its whole output is in {tmp_path / role}")
    problems = []
    if code != 0:
        problems.append(f"schemathesis found failures (exit {code}):\n{output[-30000:]}")
    if server_errors:
        problems.append("the server logged errors:\n" + "\n\n".join(dict.fromkeys(server_errors))[:20000])
    assert not problems, "\n\n".join(problems)
