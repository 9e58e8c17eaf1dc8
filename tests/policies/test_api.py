"""``/api/v1/response-policies/`` and ``/api/v1/scopes/``: shapes, validation, toggling, search and rights."""

from __future__ import annotations

import pytest
from django.db import connection

from kcs.models import AuditEntry
from policies.models import ResponsePolicy, Scope
from tests.factories import POLICIES, SCOPES, ScopeFactory, body
from tests.helpers import row_free_while_change_waits


@pytest.mark.django_db
def test_create_returns_the_policy_in_the_documented_shape(officer_api, officer, global_scope, outputs):
    response = officer_api.post(POLICIES, body(global_scope, outputs, min_severity="high"), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) == {
        "id",
        "name",
        "description",
        "enabled",
        "scopes",
        "trigger",
        "min_severity",
        "notification_methods",
        "repeat_interval",
        "created_by",
        "created_at",
        "updated_at",
    }
    assert data["scopes"] == [global_scope.pk]
    assert data["min_severity"] == "high" and data["enabled"] is True and data["repeat_interval"] == 14400
    assert data["notification_methods"] == [outputs["mail"].pk, outputs["chat"].pk]
    assert data["created_by"] == "officer"
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.source, entry.actor) == ("create", "api", officer)


@pytest.mark.django_db
def test_threshold_defaults_to_the_triggers_own(officer_api, global_scope, outputs):
    data = officer_api.post(POLICIES, body(global_scope, outputs), format="json").json()
    assert data["min_severity"] == "critical"
    data = officer_api.post(
        POLICIES, body(global_scope, outputs, name="Malware", trigger="malware"), format="json"
    ).json()
    assert data["min_severity"] is None


@pytest.mark.django_db
def test_methods_keep_their_order(officer_api, global_scope, outputs):
    order = [outputs["hook"].pk, outputs["mail"].pk, outputs["chat"].pk]
    created = officer_api.post(POLICIES, body(global_scope, outputs, notification_methods=order), format="json")
    assert officer_api.get(f"{POLICIES}{created.json()['id']}/").json()["notification_methods"] == order


@pytest.mark.django_db
def test_patch_enabled_toggles_and_logs_a_disable(officer_api, make_policy):
    policy = make_policy("Critical CVEs")
    response = officer_api.patch(f"{POLICIES}{policy.pk}/", {"enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    policy.refresh_from_db()
    assert not policy.enabled
    entry = AuditEntry.objects.get()
    assert entry.action == "disable" and entry.changes == {"enabled": [True, False]}


@pytest.mark.django_db
def test_put_replaces_the_policy_and_logs_changed_fields(officer_api, make_policy, prod_scope, outputs):
    policy = make_policy("Critical CVEs")
    response = officer_api.put(
        f"{POLICIES}{policy.pk}/",
        {
            "name": "Prod misconfigurations",
            "scopes": [prod_scope.pk],
            "trigger": "misconfigurations",
            "min_severity": "medium",
            "notification_methods": [{"integration": outputs["hook"].pk, "kind": "webhook"}],
            "repeat_interval": 0,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["notification_methods"] == [outputs["hook"].pk]
    changes = AuditEntry.objects.get().changes
    assert changes["scopes"] == [["Global"], ["Production"]]
    assert changes["min_severity"] == ["critical", "medium"]
    assert changes["repeat_interval"] == [14400, 0]


@pytest.mark.django_db
def test_search_finds_by_part_of_the_name(officer_api, make_policy):
    make_policy("Prod criticals")
    make_policy("Staging malware", trigger="malware", min_severity=None)
    names = [p["name"] for p in officer_api.get(POLICIES, {"search": "MALW"}).json()["results"]]
    assert names == ["Staging malware"]


@pytest.mark.django_db
def test_list_filters_by_status_and_trigger(officer_api, make_policy):
    make_policy("A", enabled=False)
    make_policy("B", trigger="malware", min_severity=None)
    assert [p["name"] for p in officer_api.get(POLICIES, {"enabled": "false"}).json()["results"]] == ["A"]
    assert [p["name"] for p in officer_api.get(POLICIES, {"trigger": "malware"}).json()["results"]] == ["B"]


@pytest.mark.django_db
def test_delete_removes_the_policy_and_logs_it(officer_api, make_policy):
    policy = make_policy("Critical CVEs")
    assert officer_api.delete(f"{POLICIES}{policy.pk}/").status_code == 204
    assert not ResponsePolicy.objects.exists()
    assert AuditEntry.objects.get().action == "delete"


BAD = [
    ("duplicate name", {"name": "existing"}, "name", "already exists"),
    ("over-long name", {"name": "x" * 101}, "name", "no more than 100 characters"),
    ("no scope", {"scopes": []}, "scopes", "Choose at least one scope"),
    ("unknown scope", {"scopes": [999999]}, "scopes", "does not exist"),
    ("no method", {"notification_methods": []}, "notification_methods", "at least one notification method"),
    ("unknown integration", {"notification_methods": [999999]}, "notification_methods", "No integration with id"),
    ("wrong type", {"notification_methods": "WRONG_TYPE"}, "notification_methods", "not Telegram"),
    ("integration twice", {"notification_methods": "TWICE"}, "notification_methods", "listed more than once"),
    ("unknown trigger", {"trigger": "ransomware"}, "trigger", "not a valid choice"),
    ("threshold without one", {"trigger": "malware", "min_severity": "high"}, "min_severity", "no severity threshold"),
    ("unknown severity", {"min_severity": "severe"}, "min_severity", "not a severity"),
    ("negative repeat", {"repeat_interval": -5}, "repeat_interval", "greater than or equal to 0"),
    ("huge repeat", {"repeat_interval": 10**9}, "repeat_interval", "from 0 to"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case, fields, field, message", BAD, ids=[case[0] for case in BAD])
def test_bad_input_gets_400_with_field_errors_and_saves_nothing(
    officer_api, make_policy, global_scope, outputs, case, fields, field, message
):
    make_policy("Existing")
    if fields.get("notification_methods") == "WRONG_TYPE":
        fields = {"notification_methods": [{"integration": outputs["mail"].pk, "kind": "telegram"}]}
    if fields.get("notification_methods") == "TWICE":
        fields = {"notification_methods": [outputs["mail"].pk, outputs["mail"].pk]}
    response = officer_api.post(POLICIES, body(global_scope, outputs, **fields), format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["detail"] == "Invalid input."
    assert message in " ".join(map(str, data["errors"][field])), data
    assert ResponsePolicy.objects.count() == 1 and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_patch_with_bad_input_changes_nothing(officer_api, make_policy):
    policy = make_policy("Critical CVEs")
    response = officer_api.patch(f"{POLICIES}{policy.pk}/", {"notification_methods": []}, format="json")
    assert response.status_code == 400
    assert policy.notification_methods.count() == 1 and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_without_token_the_api_answers_401(client, make_policy):
    assert client.get(POLICIES).status_code == 401


@pytest.mark.django_db
def test_auditor_reads_but_cannot_write(auditor_api, make_policy, global_scope, outputs):
    policy = make_policy("Critical CVEs")
    assert auditor_api.get(POLICIES).json()["count"] == 1
    assert auditor_api.post(POLICIES, body(global_scope, outputs, name="New"), format="json").status_code == 403
    assert auditor_api.patch(f"{POLICIES}{policy.pk}/", {"enabled": False}, format="json").status_code == 403
    assert auditor_api.delete(f"{POLICIES}{policy.pk}/").status_code == 403
    policy.refresh_from_db()
    assert policy.enabled and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_user_without_rights_cannot_read(plain_api, make_policy):
    make_policy("Critical CVEs")
    assert plain_api.get(POLICIES).status_code == 403


@pytest.mark.django_db
def test_add_change_delete_rights_alone_do_not_allow_writes(plain_user, plain_api, global_scope, outputs):
    from tests.factories import grant

    grant(plain_user, "policies.view_responsepolicy", "policies.add_responsepolicy")
    response = plain_api.post(POLICIES, body(global_scope, outputs), format="json")
    assert response.status_code == 403  # writing needs "manage response policy settings"


@pytest.mark.django_db
def test_scope_crud_in_the_documented_shape(officer_api):
    created = officer_api.post(
        SCOPES,
        {
            "name": "Prod",
            "clusters": ["prod-*", " prod-*", ""],
            "namespaces": ["payments"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data == {
        "id": data["id"],
        "name": "Prod",
        "description": "",
        "is_global": False,
        "clusters": ["prod-*"],
        "namespaces": ["payments"],
        "registries": [],
        "repositories": [],
    }
    changed = officer_api.patch(f"{SCOPES}{data['id']}/", {"registries": ["registry.example.com"]}, format="json")
    assert changed.json()["registries"] == ["registry.example.com"]
    assert officer_api.delete(f"{SCOPES}{data['id']}/").status_code == 204
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == ["create", "update", "delete"]


@pytest.mark.django_db
def test_scope_with_a_spaced_pattern_is_refused(officer_api):
    response = officer_api.post(SCOPES, {"name": "Bad", "clusters": ["prod cluster"]}, format="json")
    assert response.status_code == 400 and "contains spaces" in response.json()["errors"]["clusters"][0]


@pytest.mark.django_db
def test_global_scope_cannot_be_changed_or_deleted(officer_api, global_scope):
    for response in (
        officer_api.patch(f"{SCOPES}{global_scope.pk}/", {"clusters": ["x"]}, format="json"),
        officer_api.delete(f"{SCOPES}{global_scope.pk}/"),
    ):
        assert response.status_code == 400
        assert "Global scope is built in" in response.json()["detail"]
    global_scope.refresh_from_db()
    assert global_scope.clusters == [] and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_scope_in_use_cannot_be_deleted(officer_api, make_policy, prod_scope):
    make_policy("Prod criticals", scopes=[prod_scope])
    response = officer_api.delete(f"{SCOPES}{prod_scope.pk}/")
    assert response.status_code == 400 and "used by “Prod criticals”" in response.json()["detail"]
    assert Scope.objects.filter(pk=prod_scope.pk).exists()


@pytest.mark.django_db
def test_schema_documents_the_policy_endpoints(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/response-policies/" in schema and "/api/v1/scopes/" in schema and "/api/v1/audit-log/" in schema


@pytest.mark.django_db
def test_patching_the_trigger_alone_resets_the_threshold_to_the_new_triggers_default(officer_api, make_policy):
    policy = make_policy("Critical CVEs", min_severity=4)
    response = officer_api.patch(f"{POLICIES}{policy.pk}/", {"trigger": "malware"}, format="json")
    assert response.status_code == 200 and response.json()["min_severity"] is None
    response = officer_api.patch(f"{POLICIES}{policy.pk}/", {"trigger": "runtime_threats"}, format="json")
    assert response.json()["min_severity"] == "high"


@pytest.mark.django_db(transaction=True)
def test_scope_change_takes_the_configuration_lock_before_the_scope_row(admin_api):
    """Like an integration's (tests/notifications/test_api.py): a scope's PUT locked the scope, then the revision;
    a policy's PUT at the same time renewed the revision, then needed the scope for its scope list: deadlock."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite serializes whole transactions)")
    scope = ScopeFactory(name="Production", clusters=["prod-*"])
    answers = []

    def change():
        answers.append(admin_api.patch(f"{SCOPES}{scope.pk}/", {"clusters": ["prod-eu-*"]}, format="json"))

    assert row_free_while_change_waits(change, Scope, scope.pk)
    assert answers[0].status_code == 200, answers[0].content
    assert Scope.objects.get(pk=scope.pk).clusters == ["prod-eu-*"]


@pytest.mark.django_db
def test_a_policy_whose_creator_was_deleted_answers_created_by_null_as_its_schema_says(
    officer_api, officer, make_policy
):
    """Found by the API fuzz test: the answer had ``"created_by": null`` where the schema promised a string."""
    policy = make_policy("Orphan")
    ResponsePolicy.objects.filter(pk=policy.pk).update(created_by=officer)
    assert officer_api.get(f"{POLICIES}{policy.pk}/").json()["created_by"] == officer.username
    ResponsePolicy.objects.filter(pk=policy.pk).update(created_by=None)  # what deleting that account leaves
    assert officer_api.get(f"{POLICIES}{policy.pk}/").json()["created_by"] is None
    schema = officer_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["schemas"]["ResponsePolicy"]["properties"]["created_by"]["nullable"] is True
