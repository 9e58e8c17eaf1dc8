"""The Response policies screen: table, search, sort, add/edit/toggle/delete, bad input and rights."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kcs.models import AuditEntry
from policies.models import ResponsePolicy, Trigger
from tests.factories import form_data

LIST = "/policies/response/"
ADD = "/policies/response/add/"


@pytest.mark.django_db
def test_root_url_opens_the_overview_with_the_policies_table_one_click_away(officer_client):
    response = officer_client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/overview/"
    assert f'href="{LIST}"'.encode() in response.content


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and response.url.startswith("/login/")


@pytest.mark.django_db
def test_table_shows_each_policy_with_its_trigger_scopes_outputs_status_and_creator(
    officer_client, officer, make_policy, prod_scope
):
    make_policy("Prod criticals", scopes=[prod_scope], methods=("mail", "chat"), created_by=officer)
    make_policy("Old malware rule", trigger=Trigger.MALWARE, min_severity=None, enabled=False)
    html = officer_client.get(LIST).content.decode()
    assert "Prod criticals" in html and "Critical vulnerabilities" in html
    assert "Production" in html and "SOC mailbox" in html and "On-call chat" in html
    assert ">officer<" in html
    assert 'class="policy-row disabled"' in html  # a disabled policy is visibly disabled
    assert html.count('role="switch"') == 2
    assert "Add policy" in html


@pytest.mark.django_db
def test_search_finds_policies_by_part_of_the_name_ignoring_case(officer_client, make_policy):
    make_policy("Prod criticals")
    make_policy("Staging malware", trigger=Trigger.MALWARE, min_severity=None)
    html = officer_client.get(LIST, {"q": "CRIT"}).content.decode()
    assert "Prod criticals" in html and "Staging malware" not in html
    assert "1 policy matching “CRIT”" in html


@pytest.mark.django_db
def test_search_with_htmx_answers_with_the_table_only(officer_client, make_policy):
    make_policy("Prod criticals")
    response = officer_client.get(LIST, {"q": "prod"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="policy-results")
    html = response.content.decode()
    assert "Prod criticals" in html and '<nav class="sidebar"' not in html and "<table" in html


@pytest.mark.django_db
def test_search_without_match_says_so(officer_client, make_policy):
    make_policy("Prod criticals")
    assert "No policy name contains “zzz”" in officer_client.get(LIST, {"q": "zzz"}).content.decode()


@pytest.mark.django_db
def test_table_sorts_by_name_status_and_creator(officer_client, make_policy, django_user_model):
    zed = django_user_model.objects.create_user("zed")
    amy = django_user_model.objects.create_user("amy")
    make_policy("B policy", enabled=False, created_by=amy)
    make_policy("A policy", created_by=zed)
    make_policy("C policy", created_by=amy)

    def order(sort):
        html = officer_client.get(LIST, {"sort": sort}).content.decode()
        return sorted(["A policy", "B policy", "C policy"], key=html.index)

    assert order("name") == ["A policy", "B policy", "C policy"]
    assert order("-name") == ["C policy", "B policy", "A policy"]
    assert order("status") == ["A policy", "C policy", "B policy"]  # enabled first
    assert order("-status") == ["B policy", "A policy", "C policy"]
    assert order("created_by") == ["B policy", "C policy", "A policy"]


@pytest.mark.django_db
def test_table_is_paginated(officer_client, make_policy):
    for number in range(30):
        make_policy(f"Policy {number:02d}")
    first = officer_client.get(LIST).content.decode()
    second = officer_client.get(LIST, {"page": 2}).content.decode()
    assert "Policy 24" in first and "Policy 25" not in first
    assert "Policy 25" in second and "Page 2 of 2" in second


def _list_queries(client, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, params or {}).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_list_page_runs_the_same_number_of_queries_for_5_and_50_policies(officer_client, make_policy, prod_scope):
    for number in range(5):
        make_policy(f"Policy {number:02d}", scopes=[prod_scope], methods=("mail", "chat"))
    few, few_search = _list_queries(officer_client), _list_queries(officer_client, {"q": "policy"})
    for number in range(5, 50):
        make_policy(f"Policy {number:02d}", scopes=[prod_scope], methods=("mail", "chat", "hook"))
    assert _list_queries(officer_client) == few
    assert _list_queries(officer_client, {"q": "policy"}) == few_search
    assert few <= 10  # session, user, rights, the header's scope switcher (roles with scopes, held scopes), the page


@pytest.mark.django_db
def test_officer_adds_a_policy_with_two_notification_methods(officer_client, officer, global_scope, outputs):
    data = form_data(
        global_scope,
        [("email", outputs["mail"].pk), ("telegram", outputs["chat"].pk)],
        name="Critical CVEs in prod",
        trigger=Trigger.CRITICAL_VULNERABILITIES,
        min_severity="4",
    )
    response = officer_client.post(ADD, data, follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert "Policy “Critical CVEs in prod” created." in response.content.decode()
    policy = ResponsePolicy.objects.get(name="Critical CVEs in prod")
    assert [m.integration.name for m in policy.notification_methods.all()] == ["SOC mailbox", "On-call chat"]
    assert policy.min_severity == 4 and policy.created_by == officer and policy.enabled
    entry = AuditEntry.objects.get(object_type="response policy", action="create")
    assert entry.actor == officer and entry.source == "ui"
    assert entry.changes["notification_methods"] == [None, ["SOC mailbox", "On-call chat"]]


@pytest.mark.django_db
def test_threshold_left_empty_takes_the_trigger_default(officer_client, global_scope, outputs):
    data = form_data(global_scope, [("email", outputs["mail"].pk)], trigger=Trigger.RUNTIME_THREATS)
    officer_client.post(ADD, data)
    assert ResponsePolicy.objects.get().min_severity == 4  # high


@pytest.mark.django_db
def test_add_form_offers_triggers_in_kcs_order_and_integrations_grouped_by_type(officer_client, outputs):
    html = officer_client.get(ADD).content.decode()
    labels = [
        "Sensitive data",
        "Non-compliant",
        "Critical vulnerabilities",
        "Malware",
        "Risk acceptance expiration",
        "Misconfigurations",
        "Runtime threats",
    ]
    positions = [html.index(f">{label}</option>") for label in labels]
    assert positions == sorted(positions)
    assert '<optgroup label="Telegram">' in html and 'data-kind="telegram"' in html
    assert 'id="method-row-template"' in html  # the row the Add button copies


BAD_INPUT = [
    ("no name", {"name": ""}, None, "name", "This field is required."),
    ("over-long name", {"name": "x" * 101}, None, "name", "at most 100 characters"),
    ("no scope", {"scopes": []}, None, "scopes", "Choose at least one scope"),
    ("unknown trigger", {"trigger": "ransomware"}, None, "trigger", "Select a valid choice"),
    (
        "threshold on a trigger without one",
        {"trigger": Trigger.MALWARE, "min_severity": "5"},
        None,
        "min_severity",
        "The Malware trigger has no severity threshold",
    ),
    ("no notification method", {}, [], None, "Add at least one notification method."),
    ("integration of the wrong type", {}, [("telegram", "mail")], None, "is a Email output, not Telegram"),
    ("type without integration", {}, [("email", None)], None, "Choose an integration of this type"),
    ("same integration twice", {}, [("email", "mail"), ("email", "mail")], None, "is listed more than once"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case, fields, methods, field, message", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_refused_with_a_message_and_nothing_is_saved(
    officer_client, global_scope, outputs, case, fields, methods, field, message
):
    rows = (
        [("email", outputs["mail"].pk)]
        if methods is None
        else [(kind, None if key is None else outputs[key].pk) for kind, key in methods]
    )
    data = form_data(global_scope, rows, **fields)
    if fields.get("scopes") == []:
        del data["scopes"]
    response = officer_client.post(ADD, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "The policy was not saved" in response.content.decode()
    if field:
        assert response.context["form"].errors[field]
    assert not ResponsePolicy.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_duplicate_name_is_refused_ignoring_case(officer_client, make_policy, global_scope, outputs):
    make_policy("Critical CVEs")
    response = officer_client.post(ADD, form_data(global_scope, [("email", outputs["mail"].pk)], name="critical cves"))
    assert response.status_code == 400
    assert "A policy named “critical cves” already exists." in response.content.decode()
    assert ResponsePolicy.objects.count() == 1


@pytest.mark.django_db
def test_edit_form_changes_the_policy_and_logs_the_changed_fields(officer_client, make_policy, global_scope, outputs):
    policy = make_policy("Critical CVEs", methods=("mail",))
    form = officer_client.get(f"/policies/response/{policy.pk}/").content.decode()
    assert 'value="Critical CVEs"' in form and 'selected data-kind="email">SOC mailbox' in form
    data = form_data(
        global_scope,
        [("email", outputs["mail"].pk), ("webhook", outputs["hook"].pk)],
        name="Critical CVEs (all)",
        trigger=Trigger.CRITICAL_VULNERABILITIES,
        min_severity="5",
        **{"methods-INITIAL_FORMS": "1"},
    )
    response = officer_client.post(f"/policies/response/{policy.pk}/", data)
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.name == "Critical CVEs (all)"
    assert [m.integration.name for m in policy.notification_methods.all()] == ["SOC mailbox", "SIEM hook"]
    entry = AuditEntry.objects.get(action="update")
    assert entry.changes == {
        "name": ["Critical CVEs", "Critical CVEs (all)"],
        "notification_methods": [["SOC mailbox"], ["SOC mailbox", "SIEM hook"]],
    }


@pytest.mark.django_db
def test_remove_box_drops_a_notification_method_row(officer_client, make_policy, global_scope, outputs):
    policy = make_policy("Two outputs", methods=("mail", "chat"))
    data = form_data(
        global_scope,
        [("email", outputs["mail"].pk), ("telegram", outputs["chat"].pk)],
        name="Two outputs",
        trigger=Trigger.CRITICAL_VULNERABILITIES,
        min_severity="5",
        **{"methods-INITIAL_FORMS": "2", "methods-0-DELETE": "on"},
    )
    assert officer_client.post(f"/policies/response/{policy.pk}/", data).status_code == 302
    assert [m.integration.name for m in policy.notification_methods.all()] == ["On-call chat"]


@pytest.mark.django_db
def test_toggle_disables_and_enables_without_javascript(officer_client, make_policy):
    policy = make_policy("Critical CVEs")
    response = officer_client.post(
        f"/policies/response/{policy.pk}/toggle/", {"enabled": "0", "next": "/policies/response/?q=crit"}
    )
    assert response.status_code == 302 and response.url == "/policies/response/?q=crit"
    policy.refresh_from_db()
    assert not policy.enabled
    officer_client.post(f"/policies/response/{policy.pk}/toggle/", {"enabled": "1"})
    policy.refresh_from_db()
    assert policy.enabled
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == ["disable", "enable"]


@pytest.mark.django_db
def test_toggle_ignores_a_foreign_next_address(officer_client, make_policy):
    policy = make_policy("Critical CVEs")
    response = officer_client.post(
        f"/policies/response/{policy.pk}/toggle/", {"enabled": "0", "next": "https://evil.example/"}
    )
    assert response.url == LIST


@pytest.mark.django_db
def test_toggle_with_htmx_answers_with_the_updated_row(officer_client, make_policy):
    policy = make_policy("Critical CVEs")
    response = officer_client.post(f"/policies/response/{policy.pk}/toggle/", {"enabled": "0"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith("<tr") and 'class="policy-row disabled"' in html and ">Disabled<" in html


@pytest.mark.django_db
def test_a_repeated_toggle_click_changes_nothing_more(officer_client, make_policy):
    policy = make_policy("Critical CVEs")
    for _ in range(2):
        officer_client.post(f"/policies/response/{policy.pk}/toggle/", {"enabled": "0"})
    policy.refresh_from_db()
    assert not policy.enabled
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_delete_asks_for_confirmation_then_deletes(officer_client, make_policy):
    policy = make_policy("Critical CVEs")
    confirm = officer_client.get(f"/policies/response/{policy.pk}/delete/")
    assert "Delete the policy “Critical CVEs”?" in confirm.content.decode()
    assert ResponsePolicy.objects.filter(pk=policy.pk).exists()
    response = officer_client.post(f"/policies/response/{policy.pk}/delete/", follow=True)
    assert "Policy “Critical CVEs” deleted." in response.content.decode()
    assert not ResponsePolicy.objects.filter(pk=policy.pk).exists()
    entry = AuditEntry.objects.get(action="delete")
    assert entry.object_repr == "Critical CVEs" and entry.changes["trigger"] == ["critical_vulnerabilities", None]


@pytest.mark.django_db
def test_auditor_sees_the_table_without_any_control(auditor_client, make_policy):
    make_policy("Critical CVEs")
    html = auditor_client.get(LIST).content.decode()
    assert "Critical CVEs" in html
    assert "Add policy" not in html and 'role="switch"' not in html and "Delete" not in html
    assert "badge badge-on" in html


@pytest.mark.django_db
def test_auditor_sees_a_policy_read_only(auditor_client, make_policy):
    policy = make_policy("Critical CVEs", methods=("mail", "chat"))
    response = auditor_client.get(f"/policies/response/{policy.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and '<form method="post" class="policy-form"' not in html
    assert "On-call chat" in html and "4 hours" in html


@pytest.mark.django_db
def test_auditor_gets_403_on_every_action(auditor_client, make_policy, global_scope, outputs):
    policy = make_policy("Critical CVEs")
    data = form_data(global_scope, [("email", outputs["mail"].pk)])
    assert auditor_client.get(ADD).status_code == 403
    assert auditor_client.post(ADD, data).status_code == 403
    assert auditor_client.post(f"/policies/response/{policy.pk}/", data).status_code == 403
    assert auditor_client.post(f"/policies/response/{policy.pk}/toggle/", {"enabled": "0"}).status_code == 403
    assert auditor_client.get(f"/policies/response/{policy.pk}/delete/").status_code == 403
    assert auditor_client.post(f"/policies/response/{policy.pk}/delete/").status_code == 403
    policy.refresh_from_db()
    assert policy.enabled and ResponsePolicy.objects.count() == 1 and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_user_without_view_right_gets_403(client, plain_user):
    client.force_login(plain_user)
    assert client.get(LIST).status_code == 403


@pytest.mark.django_db
def test_names_with_html_are_shown_escaped(officer_client, make_policy):
    policy = make_policy("<script>alert(1)</script>")
    for url in (LIST, f"/policies/response/{policy.pk}/", f"/policies/response/{policy.pk}/delete/"):
        html = officer_client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
