"""manage.py ingest <tool> <file|->: the native ingest path for cron jobs and air-gapped sites."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from events.models import EventBatch, SecurityEvent
from tests.fixtures import FIXTURES, fixture_bytes

pytestmark = pytest.mark.django_db


def ingest(*args) -> dict:
    out = io.StringIO()
    call_command("ingest", *args, stdout=out)
    return json.loads(out.getvalue())


def test_a_report_file_is_stored_and_the_counts_printed(django_user_model):
    user = django_user_model.objects.create_user("cron")
    result = ingest("trivy", str(FIXTURES / "trivy/image_report.json"), "--user", "cron")
    assert (result["received"], result["created"], result["duplicates"]) == (6, 6, 0)
    batch = EventBatch.objects.get()
    assert (str(batch.id), batch.created_by, batch.source) == (result["batch"], user, "trivy")
    assert ingest("trivy", str(FIXTURES / "trivy/image_report.json"), "--user", "cron")["duplicates"] == 6
    # uids are per account: without --user the report is another sender's (none), stored once for it too.
    assert ingest("trivy", str(FIXTURES / "trivy/image_report.json"))["created"] == 6
    assert ingest("trivy", str(FIXTURES / "trivy/image_report.json"))["duplicates"] == 6


def test_standard_input_and_resource_options(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(fixture_bytes("falco/alerts.jsonl"))))
    result = ingest("falco", "-", "--cluster", "edge-7")
    assert result["created"] == 2 and len(result["ignored"]) == 1
    assert set(SecurityEvent.objects.values_list("cluster", flat=True)) == {"edge-7"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grype", str(FIXTURES / "trivy/image_report.json")), "looks like Trivy output"),
        (("trivy", "/nonexistent/report.json"), "Cannot read /nonexistent/report.json"),
        (("trivy", str(FIXTURES / "trivy/image_report.json"), "--user", "ghost"), "No user named 'ghost'"),
        (("trivy", str(FIXTURES / "trivy/image_report.json"), "--tag", "x" * 200), "--tag: Ensure"),
    ],
)
def test_refused_input_fails_with_the_reason_and_stores_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("ingest", *args, stdout=io.StringIO())
    assert SecurityEvent.objects.count() == 0
