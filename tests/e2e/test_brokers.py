"""The pipeline across broker trouble and on the other broker: a worker started as in production rides out a restart
of its Redis and goes on delivering; the whole pipeline runs on RabbitMQ."""

from __future__ import annotations

import time

import pytest

from notifications.models import Notification
from tests.factories import hook, make_policy, token_client, vulnerability
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RESTARTS = 3


@pytest.fixture
def api(django_user_model):
    return token_client(django_user_model.objects.create_superuser("ci", "ci@example.com", "pw-ci-12345"))


def post_event(api, index: int) -> int:
    answer = api.post(
        "/api/v1/events/",
        vulnerability(severity="critical", finding_id=f"CVE-2024-{9000 + index}", title=f"finding {index}"),
        format="json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["ids"][0]


def test_a_worker_rides_out_a_restart_of_its_redis_and_goes_on_delivering(
    api, pipeline, private_redis, use_broker, start_worker
):
    http = pipeline["http"]
    use_broker(private_redis.url)  # the API publishes to the private Redis too
    worker = start_worker(private_redis.url, production=True)  # no --without-gossip etc. on its command line
    assert "mingle:" not in worker.log()  # kcs/celery.py turned the broadcast bootsteps off all the same
    make_policy("Restart", [hook(pipeline, "restart")])
    post_event(api, 1)
    wait_for(lambda: http.received("/hook/restart"), what="the first delivery")

    # Restarts, each once the worker is fully up again; nothing is kept, every queued message is lost, as after a
    # crash. (Before the fix, stopping the Gossip bootstep on the dead connection failed on about half of them.)
    for restart in range(1, RESTARTS + 1):
        time.sleep(1.5)
        private_redis.restart()
        wait_for(
            lambda restart=restart: worker.log().count("Connected to redis://") > restart or not worker.running,
            timeout=30,
            what="the worker to reconnect",
        )
        assert worker.running, worker.log()[-3000:]

    post_event(api, 2)
    wait_for(lambda: len(http.received("/hook/restart")) == 2, timeout=30, what="the delivery after the restart")
    assert Notification.objects.filter(status="sent").count() == 2
    assert worker.running
    log = worker.log()
    assert "Unrecoverable error" not in log and "Error on restarting" not in log, log[-3000:]


def test_the_pipeline_runs_on_rabbitmq(api, pipeline, rabbitmq_url, use_broker, start_worker):
    http = pipeline["http"]
    use_broker(rabbitmq_url)
    worker = start_worker(rabbitmq_url, production=True)
    assert "Connected to amqp://" in worker.log()
    # The first answer asks to come back in a second: the retry travels through RabbitMQ as a countdown task.
    http.script["/hook/rabbit"] = [(503, "1")]
    make_policy("On RabbitMQ", [hook(pipeline, "rabbit")])
    post_event(api, 1)

    sent = wait_for(lambda: Notification.objects.filter(status="sent").first(), timeout=30, what="the delivery")
    received = http.received("/hook/rabbit", accepted_only=False)
    assert [r["answered"] for r in received] == [503, 200]
    assert all(r["verified"] and r["headers"]["X-KCS-Delivery"] == sent.idempotency_key for r in received)
    assert sent.attempts == 2
    assert worker.running and "Traceback" not in worker.log()
