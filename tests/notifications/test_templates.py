"""Editable message templates: each kind's own template reaches the wire, KCS webhook bodies work, templates are
sandboxed and escaped for their format, and a template that fails is refused (form and API) with its line."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core import mail

from kcs.models import AuditEntry
from notifications.channels import CHANNELS, channel_for
from notifications.forms import check_template
from notifications.models import NotificationIntegration
from tests.factories import make_batch, make_integration
from tests.helpers import context_for, send

pytestmark = pytest.mark.django_db

KCS_BODY = '{"policy": "$$response_policy_name$$", "image": "$$image_name$$"}'


def create(admin_api, kind: str, config: dict, secrets: dict | None = None, name: str = "Out"):
    """Create an integration through the API (so the shared validation applies); the answer."""
    return admin_api.post(
        "/api/v1/integrations/",
        {"name": name, "kind": kind, "config": config, "secrets": secrets or {}},
        format="json",
    )


def created(admin_api, kind: str, config: dict, secrets: dict | None = None) -> NotificationIntegration:
    answer = create(admin_api, kind, config, secrets)
    assert answer.status_code == 201, answer.json()
    return NotificationIntegration.objects.get(pk=answer.json()["id"])


# --- KCS webhook compatibility ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy_name", ["Prod critical", 'The "quoted" \\ policy'])
def test_a_kcs_style_body_renders_to_valid_json_with_the_policy_and_image(fake_http, admin_api, policy_name):
    hook = created(
        admin_api, "webhook", {"url": "https://siem.example.com/in", "auth": "none", "body_template": KCS_BODY}
    )
    channel = channel_for(hook)
    message = channel.render(context_for(make_batch(1), policy_name=policy_name))
    assert json.loads(message.body) == {"policy": policy_name, "image": "shop/web:1.4.2"}


def test_kcs_variable_names_outside_strings_carry_json_values(fake_http, admin_api):
    body = (
        '{"response_policy_name": $$response_policy_name$$, "registry_name": $$registry_name$$, '
        '"compliance_verdict": $$compliance_verdict$$, "malware_count": $$malware_count$$, '
        '"vulnerabilities_count": $$vulnerabilities_count$$, "sensitive_data_count": $$sensitive_data_count$$, '
        '"misconfigurations_count": $$misconfigurations_count$$, "note": "cost $$5 for $$image_name$$"}'
    )
    hook = created(admin_api, "webhook", {"url": "https://siem.example.com/in", "auth": "none", "body_template": body})
    send(hook, make_batch(3))
    assert fake_http.body() == {
        "response_policy_name": "Prod critical",
        "registry_name": "registry.example.com",
        "compliance_verdict": "compliant",
        "malware_count": 0,
        "vulnerabilities_count": 3,
        "sensitive_data_count": 0,
        "misconfigurations_count": 0,
        "note": "cost $5 for shop/web:1.4.2",
    }


def test_hmac_sha512_in_a_header_of_ones_choosing_verifies(fake_http, admin_api):
    config = {
        "url": "https://siem.example.com/in",
        "auth": "hmac",
        "hmac_algorithm": "sha512",
        "signature_header": "X-Hub-Signature",
    }
    hook = created(admin_api, "webhook", config, {"hmac_secret": "k3y"})
    send(hook, make_batch(1), timestamp=1_700_000_000)
    call = fake_http.last
    expected = hmac.new(b"k3y", b"1700000000." + call["data"], hashlib.sha512).hexdigest()
    assert call["headers"]["X-Hub-Signature"] == f"sha512={expected}"
    assert "X-KCS-Signature" not in call["headers"]


def test_webhook_rate_limit_defaults_to_150_per_second_and_can_be_turned_off(admin_api):
    hook = created(admin_api, "webhook", {"url": "https://siem.example.com/in", "auth": "none"})
    assert hook.config["rate_limit"] == 150 and channel_for(hook).rate_limit == 150
    answer = admin_api.patch(f"/api/v1/integrations/{hook.pk}/", {"config": {"rate_limit": None}}, format="json")
    assert answer.status_code == 200 and answer.json()["config"]["rate_limit"] is None


# --- every kind's own template reaches the wire ---------------------------------------------------------------------
def test_email_subject_text_and_html_templates_are_used(admin_api, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    config = {
        "recipients": ["soc@example.com"],
        "subject_template": "{{ worst_severity_label }} in {{ images.0 }} ({{ total }})",
        "text_template": "Policy {{ policy_name }}:\n{% for e in events %}- {{ e.finding_id }} {{ e.title }}\n{% endfor %}",
        "html_template": "<p>{{ policy_name }}</p>{% for e in events %}<li>{{ e.title }}</li>{% endfor %}",
    }
    send(created(admin_api, "email", config), make_batch(1, title="<b>bad</b> & co"))
    (message,) = mail.outbox
    assert message.subject == "Critical in registry.example.com/shop/web:1.4.2@sha256:" + "ab" * 32 + " (1)"
    assert message.body == "Policy Prod critical:\n- CVE-2024-1000 <b>bad</b> & co"  # plain text: as it is
    html, mime = message.alternatives[0]
    assert html == "<p>Prod critical</p><li>&lt;b&gt;bad&lt;/b&gt; &amp; co</li>"  # HTML: escaped


def test_telegram_template_is_sent_html_escaped(fake_http, admin_api):
    config = {"chat_id": "-100123", "message_template": "<b>{{ policy_name }}</b>: {{ events.0.title }}"}
    hook = created(admin_api, "telegram", config, {"bot_token": "123456:ABCdef"})
    send(hook, make_batch(1, title="<script>x</script>"))
    assert fake_http.last["json"]["text"] == "<b>Prod critical</b>: &lt;script&gt;x&lt;/script&gt;"


def test_slack_template_is_sent_with_mrkdwn_escaped(fake_http, admin_api):
    config = {"message_template": "*{{ policy_name }}* {{ events.0.title }} {{ total|slack }}"}
    hook = created(admin_api, "slack", config, {"webhook_url": "https://hooks.slack.com/services/T/B/X"})
    send(hook, make_batch(1, title="<!channel> <https://evil.example|click>"))
    assert fake_http.last["json"] == {"text": "*Prod critical* &lt;!channel&gt; &lt;https://evil.example|click&gt; 1"}


def test_teams_title_and_card_text_templates_are_sent_with_markdown_escaped(fake_http, admin_api):
    config = {"title_template": "Alert: {{ policy_name }}", "body_template": "{{ events.0.title }}"}
    hook = created(admin_api, "teams", config, {"webhook_url": "https://example.webhook.office.com/w/1"})
    send(hook, make_batch(1, title="[click](https://evil.example)"))
    card = fake_http.last["json"]["attachments"][0]["content"]
    assert [block["text"] for block in card["body"]] == ["Alert: Prod critical", r"\[click\]\(https://evil.example\)"]


def test_a_webhook_body_template_reaches_the_wire(fake_http, admin_api):
    body = '{"text": "$policy_name: $event_count finding(s)", "events": $events}'
    send(
        created(admin_api, "webhook", {"url": "https://siem.example.com/in", "auth": "none", "body_template": body}),
        make_batch(2),
    )
    sent = fake_http.body()
    assert sent["text"] == "Prod critical: 2 finding(s)" and len(sent["events"]) == 2


@pytest.mark.parametrize("kind", ["email", "telegram", "slack", "teams", "webhook"])
def test_every_default_template_passes_the_template_check_unchanged(kind):
    channel_class = CHANNELS[kind]
    assert channel_class.templates
    for slot in channel_class.templates:
        check_template(channel_class, slot, channel_class.default_template(slot))


@pytest.mark.parametrize("kind", ["email", "telegram", "slack", "teams"])
def test_a_default_template_pasted_as_the_custom_one_sends_the_same_message(kind, fake_http):
    batch = make_batch(3, title='a "quoted" <title> & more')
    plain = channel_for(make_integration(kind)).render(context_for(batch))
    channel_class = CHANNELS[kind]
    copied = {slot.key: channel_class.default_template(slot) for slot in channel_class.templates}
    integration = make_integration(kind, "copy", config={**make_integration(kind, "base").config, **copied})
    assert channel_for(integration).render(context_for(batch)) == plain


# --- the sandbox ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,key,template,named",
    [
        ("email", "subject_template", "{{ integration.secrets_encrypted }}", "integration"),
        ("email", "text_template", "{% for e in events %}{{ e.details }}{% endfor %}", "e.details"),
        ("telegram", "message_template", "{{ events.0.batch.events }}", "events.0.batch.events"),
        ("slack", "message_template", "{{ settings.SECRET_KEY }}", "settings"),
        ("teams", "title_template", "{% if request %}{{ request.user }}{% endif %}", "request"),
        ("webhook", "body_template", '{"key": $secret_key}', "$secret_key"),
    ],
)
def test_a_template_cannot_reach_model_attributes_or_undocumented_variables(admin_api, kind, key, template, named):
    config = {**make_integration(kind, "base").config, key: template}
    secrets = {"webhook": {}, "telegram": {"bot_token": "1:a"}}.get(kind, {"webhook_url": "https://h.example.com/x"})
    answer = create(admin_api, kind, config, secrets if kind in ("slack", "teams", "telegram") else None)
    assert answer.status_code == 400
    (message,) = answer.json()["errors"]["config"][key]
    assert "Unknown variable" in message and named in message
    assert not NotificationIntegration.objects.filter(name="Out").exists()


@pytest.mark.parametrize(
    "template,refused",
    [
        ("{% debug %}", "Invalid block tag on line 1: 'debug'"),
        ('{% load static %}{% static "x" %}', "'static' is not a registered tag library"),
        ('{% include "notifications/integration_form.html" %}', "integration_form.html"),
        ('{{ policy_name|center:"999999999" }}', "Invalid filter: 'center'"),
        ("{% lorem 99999 w %}", "Invalid block tag on line 1: 'lorem'"),
        (
            "{% for a in events %}{% for b in events %}{% for c in events %}x{% endfor %}{% endfor %}{% endfor %}",
            "nested",
        ),
        (
            "{% for a in events.0.title|make_list %}{% for b in events.0.title|make_list %}x{% endfor %}{% endfor %}",
            "Line 1: The loops go round more than 2000 times",
        ),
    ],
)
def test_the_sandbox_has_no_way_out(admin_api, template, refused):
    answer = create(admin_api, "email", {"recipients": ["a@example.com"], "text_template": template})
    assert answer.status_code == 400
    assert refused in answer.json()["errors"]["config"]["text_template"][0]


def test_a_slack_template_cannot_include_unescaped_text_or_cycle_it_out(fake_http, admin_api):
    secrets = {"webhook_url": "https://hooks.slack.com/services/T/B/X"}
    template = '{% for e in events %}{% include "messages/_event.txt" %}{% endfor %}'
    answer = create(admin_api, "slack", {"message_template": template}, secrets)
    assert answer.status_code == 400 and "include" in answer.json()["errors"]["config"]["message_template"][0]
    hook = created(
        admin_api, "slack", {"message_template": "{% for e in events %}{% cycle e.title 'x' %}{% endfor %}"}, secrets
    )
    send(hook, make_batch(1, title="<!channel>"))
    assert fake_http.last["json"]["text"] == "&lt;!channel&gt;"


def test_html_templates_cannot_turn_escaping_off(admin_api):
    for template in ("{{ policy_name|safe }}", "{% autoescape off %}{{ policy_name }}{% endautoescape %}"):
        answer = create(admin_api, "telegram", {"chat_id": "-1", "message_template": template}, {"bot_token": "1:a"})
        assert answer.status_code == 400, template


# --- refused with the line ---------------------------------------------------------------------------------------------
def test_a_template_that_fails_is_refused_by_the_api_with_its_line_and_field(admin_api):
    template = "Policy {{ policy_name }}\n{% for e in events %}\n{{ e.title|nosuchfilter }}\n{% endfor %}"
    answer = create(admin_api, "email", {"recipients": ["a@example.com"], "html_template": template})
    assert answer.status_code == 400
    assert answer.json()["errors"]["config"] == {"html_template": ["Line 3: Invalid filter: 'nosuchfilter'"]}
    broken_json = '{\n  "policy": $policy_name,\n  "n": $event_count\n  "x": 1\n}'
    answer = create(
        admin_api, "webhook", {"url": "https://h.example.com/", "auth": "none", "body_template": broken_json}
    )
    assert answer.status_code == 400
    assert answer.json()["errors"]["config"]["body_template"][0].startswith("Line 4: the body is not valid JSON")
    assert not NotificationIntegration.objects.exists() and not AuditEntry.objects.exists()


def test_a_template_that_fails_is_refused_by_the_form_with_its_line(admin_client):
    answer = admin_client.post(
        "/integrations/slack/add/",
        {
            "name": "Chat",
            "enabled": "on",
            "webhook_url": "https://hooks.slack.com/services/T/B/X",
            "message_template": "ok\r\n{% if total %}\r\nunclosed",
        },
    )
    assert answer.status_code == 400
    assert "Line 2: Unclosed tag on line 2: &#x27;if&#x27;" in answer.content.decode()
    assert not NotificationIntegration.objects.exists()


# --- the form's preview -----------------------------------------------------------------------------------------------
def slack_form(**fields) -> dict:
    return {"name": "Chat", "enabled": "on", "webhook_url": "https://hooks.slack.com/services/T/B/X", **fields}


def test_the_preview_button_shows_the_message_from_sample_events_and_saves_nothing(admin_client):
    page = admin_client.get("/integrations/slack/add/").content.decode()
    assert 'name="preview"' in page and "Message template" in page and "{{ policy_name }}" in page
    answer = admin_client.post(
        "/integrations/slack/add/", slack_form(message_template="*{{ policy_name }}*: {{ total }}", preview="1")
    )
    html = answer.content.decode()
    assert answer.status_code == 200 and "Rendered from sample events" in html
    assert "*Sample policy*: 2" in html
    assert not NotificationIntegration.objects.exists() and not AuditEntry.objects.exists()


def test_the_preview_renders_a_stored_event_escaped_for_the_page(admin_client):
    event = make_batch(1, title="<img src=x onerror=alert(1)>").events.get()
    answer = admin_client.post(
        "/integrations/telegram/add/",
        {
            "name": "TG",
            "chat_id": "-1",
            "message_template": "{{ events.0.title }}",
            "preview": "1",
            "preview_event": str(event.pk),
        },
    )
    html = answer.content.decode()
    assert answer.status_code == 200 and f"Rendered from event #{event.pk}" in html
    # Telegram HTML escapes the title once; the page escapes the message again: no markup from the event runs.
    assert "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in html and "<img src=x" not in html


def test_the_preview_of_a_broken_template_says_why_and_shows_the_default(admin_client):
    answer = admin_client.post("/integrations/slack/add/", slack_form(message_template="{{ nope }}", preview="1"))
    html = answer.content.decode()
    assert "Message template: Line 1: Unknown variable: nope." in html
    assert "*Critical vulnerabilities*: 2 findings" in html  # the default message, from the sample events


def test_the_preview_needs_the_right_to_see_events_to_use_a_stored_one(client, admin_client):
    from tests.factories import UserFactory

    event = make_batch(1).events.get()
    person = UserFactory(username="integrator", rights=["notifications.add_notificationintegration"])
    client.force_login(person)
    answer = client.post("/integrations/slack/add/", slack_form(preview="1", preview_event=str(event.pk)))
    assert answer.status_code == 403
    answer = admin_client.post("/integrations/slack/add/", slack_form(preview="1", preview_event="999999"))
    assert answer.status_code == 400 and "No event #999999" in answer.content.decode()


def test_the_preview_uses_no_event_outside_the_persons_scopes(client):
    from tests.factories import ScopeFactory, UserFactory

    prod = ScopeFactory(name="prod", clusters=["prod"])
    inside = make_batch(1, cluster="prod").events.get()
    outside = make_batch(1, cluster="staging").events.get()
    rights = ["notifications.add_notificationintegration", "kcs.manage_integration", "events.view_securityevent"]
    client.force_login(UserFactory(username="prod-integrator", rights=rights, scopes=[prod]))
    answer = client.post("/integrations/slack/add/", slack_form(preview="1", preview_event=str(outside.pk)))
    assert answer.status_code == 400 and f"No event #{outside.pk}" in answer.content.decode()
    answer = client.post("/integrations/slack/add/", slack_form(preview="1", preview_event=str(inside.pk)))
    assert answer.status_code == 200 and f"Rendered from event #{inside.pk}" in answer.content.decode()
