"""/metrics: off without KCS_METRICS_TOKEN, bearer-token protected, Prometheus text format; the counters move by what
happened, the database gauges read the outbox, and the processes' counters are added up in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from events.models import EventBatch
from kcs import heartbeat, metrics
from kcs.celery import _worker_heartbeat
from kcs.gunicorn_conf import child_exit
from kcs.models import WorkerHeartbeat
from notifications.models import NotificationStatus
from tests.factories import NotificationFactory, make_batch, make_integration, make_policy, vulnerability
from tests.helpers import FakeHttp, response

TOKEN = "metrics-test-token-0123456789"

METRIC_NAMES = {
    "kcs_events_ingested",
    "kcs_ingest_request_duration_seconds",
    "kcs_evaluation_duration_seconds",
    "kcs_notifications_created",
    "kcs_notifications_sent",
    "kcs_notifications_failed",
    "kcs_notifications_suppressed",
    "kcs_delivery_attempt_duration_seconds",
    "kcs_outbox_depth",
    "kcs_outbox_oldest_pending_age_seconds",
    "kcs_unevaluated_batches",
    "kcs_last_event_received_timestamp_seconds",
    "kcs_worker_heartbeat_timestamp_seconds",
}


@pytest.fixture
def metrics_on(settings):
    settings.KCS_METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics by (sample name, labels)."""
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.content.decode())
        for sample in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(client, settings):
    settings.KCS_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Token {TOKEN}", f"Bearer {TOKEN}x", "Bearer"], ids=repr
)
def test_metrics_need_the_bearer_token(client, metrics_on, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    answer = client.get("/metrics", **headers)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert b"kcs_" not in answer.content


@pytest.mark.django_db
def test_metrics_answer_every_metric_in_prometheus_text_format(client, metrics_on):
    make_batch(1)
    WorkerHeartbeat.objects.create(queue="events", beat_at=timezone.now())
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}")  # the scheme in any case
    assert answer.status_code == 200
    families = {family.name for family in text_string_to_metric_families(answer.content.decode())}
    assert METRIC_NAMES <= families, METRIC_NAMES - families


@pytest.mark.django_db
def test_ingesting_and_delivering_moves_the_counters_by_what_happened(
    client, admin_api, metrics_on, monkeypatch, django_capture_on_commit_callbacks
):
    http = FakeHttp()
    monkeypatch.setattr(
        "notifications.channels.http.request",
        lambda method, url, **kw: http(method, url, **kw) if "broken" not in url else response(400, "no such hook"),
    )
    good = make_integration("webhook", "good", config={"url": "https://hooks.example.com/ok", "auth": "none"})
    broken = make_integration("webhook", "broken", config={"url": "https://hooks.example.com/broken", "auth": "none"})
    make_policy("Criticals", [good, broken], repeat_interval=3600)
    report = [vulnerability(finding_id="CVE-2024-0001"), vulnerability(finding_id="CVE-2024-0002")]
    runtime = vulnerability(type="runtime", source="falco", title="Shell in container", finding_id="Terminal shell")
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.post("/api/v1/events/", [*report, runtime], format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):  # the same findings again: repeats, suppressed
        assert admin_api.post("/api/v1/events/", report, format="json").status_code == 201

    after = scrape(client)
    assert moved(before, after, "kcs_events_ingested_total", source="trivy", type="vulnerability") == 4
    assert moved(before, after, "kcs_events_ingested_total", source="falco", type="runtime") == 1
    assert moved(before, after, "kcs_ingest_request_duration_seconds_count", endpoint="events") == 2
    assert moved(before, after, "kcs_evaluation_duration_seconds_count") == 2
    assert moved(before, after, "kcs_notifications_created_total", kind="webhook") == 2  # one per output
    assert moved(before, after, "kcs_notifications_suppressed_total", kind="webhook") == 2
    assert moved(before, after, "kcs_notifications_sent_total", kind="webhook") == 1
    assert moved(before, after, "kcs_notifications_failed_total", kind="webhook") == 1  # a 400 is permanent
    assert moved(before, after, "kcs_delivery_attempt_duration_seconds_count", kind="webhook", outcome="sent") == 1
    assert moved(before, after, "kcs_delivery_attempt_duration_seconds_count", kind="webhook", outcome="failed") == 1
    assert len(http.calls) == 1
    assert after[("kcs_outbox_depth", frozenset())] == 0
    assert after[("kcs_unevaluated_batches", frozenset())] == 0


@pytest.mark.django_db
def test_a_retry_is_timed_but_not_counted_as_sent_or_failed(client, metrics_on, monkeypatch):
    from notifications import delivery

    monkeypatch.setattr("notifications.channels.http.request", FakeHttp([response(503, "busy")]))
    queued = NotificationFactory()
    before = scrape(client)
    assert delivery.deliver(queued.pk) == NotificationStatus.PENDING
    after = scrape(client)
    assert moved(before, after, "kcs_delivery_attempt_duration_seconds_count", kind="webhook", outcome="retry") == 1
    assert moved(before, after, "kcs_notifications_sent_total", kind="webhook") == 0
    assert moved(before, after, "kcs_notifications_failed_total", kind="webhook") == 0


@pytest.mark.django_db
def test_gauges_read_the_outbox_and_the_events_from_the_database(client, metrics_on):
    NotificationFactory(created_at=timezone.now() - timedelta(minutes=10))
    NotificationFactory(status=NotificationStatus.SENDING)
    NotificationFactory(status=NotificationStatus.SENT)
    newest = make_batch(2, received_at=timezone.now() - timedelta(minutes=1))
    values = scrape(client)
    assert values[("kcs_outbox_depth", frozenset())] == 2
    assert 600 <= values[("kcs_outbox_oldest_pending_age_seconds", frozenset())] < 660
    # Each notification factory made a one-event batch, none evaluated: four batches wait.
    assert values[("kcs_unevaluated_batches", frozenset())] == 4
    EventBatch.objects.filter(pk=newest.pk).update(evaluated_at=timezone.now())
    assert scrape(client)[("kcs_unevaluated_batches", frozenset())] == 3
    assert values[("kcs_last_event_received_timestamp_seconds", frozenset())] == pytest.approx(
        EventBatch.objects.latest("received_at").received_at.timestamp()
    )


@pytest.mark.django_db
def test_a_worker_task_records_the_heartbeat_of_its_queue_at_most_every_few_seconds(client, metrics_on, monkeypatch):
    monkeypatch.setattr(heartbeat, "_last_beat", {})

    def task(queue: str, eager: bool = False):
        return SimpleNamespace(request=SimpleNamespace(is_eager=eager, delivery_info={"routing_key": queue}))

    _worker_heartbeat(task=task("events", eager=True))  # run in the caller's process: no worker
    assert not WorkerHeartbeat.objects.exists()
    _worker_heartbeat(task=task("notifications"))
    first = WorkerHeartbeat.objects.get(queue="notifications").beat_at
    _worker_heartbeat(task=task("notifications"))  # throttled
    assert WorkerHeartbeat.objects.get(queue="notifications").beat_at == first
    assert heartbeat.beat("events", now=first - timedelta(seconds=30))
    values = scrape(client)
    assert values[("kcs_worker_heartbeat_timestamp_seconds", frozenset({("queue", "notifications")}))] == (
        pytest.approx(first.timestamp())
    )
    assert values[("kcs_worker_heartbeat_timestamp_seconds", frozenset({("queue", "events")}))] == pytest.approx(
        first.timestamp() - 30
    )


def _python(code: str, var_dir: Path) -> str:
    """Run ``code`` after django.setup() in a new interpreter with the product's settings and metrics on."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KCS_", "DJANGO_", "CELERY_", "DATABASE_", "PROMETHEUS_")) and key != "SECRET_KEY"
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=django_settings.BASE_DIR,
        env={
            **inherited,
            "DJANGO_SETTINGS_MODULE": "kcs.settings",
            "KCS_VAR_DIR": str(var_dir),
            "KCS_METRICS_TOKEN": TOKEN,
            "LOG_LEVEL": "error",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_counters_of_every_process_are_added_up_and_serve_starts_them_from_zero(tmp_path):
    count = "from events.metrics import EVENTS_INGESTED\nEVENTS_INGESTED.labels('trivy', 'vulnerability').inc({})\n"
    _python(count.format(2), tmp_path)
    _python(count.format(3), tmp_path)
    assert (tmp_path / "metrics").is_dir()
    # The scraping process has no database here: its gauges are left out, the counters are still served.
    exposition = _python("from kcs import metrics; print(metrics.exposition().decode())", tmp_path)
    assert 'kcs_events_ingested_total{source="trivy",type="vulnerability"} 5.0' in exposition

    cleared = _python("from kcs import metrics; print(metrics.clear_files())", tmp_path)
    assert int(cleared) >= 2
    exposition = _python("from kcs import metrics; print(metrics.exposition().decode())", tmp_path)
    assert "kcs_events_ingested_total{" not in exposition


def test_an_ended_web_worker_process_loses_its_live_gauges(tmp_path, settings):
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    live, counts = tmp_path / "gauge_livesum_4242.db", tmp_path / "counter_4242.db"
    live.write_bytes(b"")
    counts.write_bytes(b"")
    child_exit(server=None, worker=SimpleNamespace(pid=4242))
    assert not live.exists() and counts.exists()  # counters stay: totals never go down
    assert metrics.clear_files() == 1 and not counts.exists()
