"""The channel registry is the one list of output kinds: a kind registered by a test appears on the screens, in the
policy form, in the API and its schema, and leaves again when unregistered."""

from __future__ import annotations

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured

from notifications.channels import (
    BUILT_IN,
    Channel,
    EmailChannel,
    Message,
    kind_choices,
    kind_label,
    register,
    unregister,
)
from notifications.forms import IntegrationForm
from notifications.models import NotificationIntegration

pytestmark = pytest.mark.django_db


class PigeonForm(IntegrationForm):
    loft = forms.CharField(label="Loft", max_length=50)

    config_fields = ("loft",)


class PigeonChannel(Channel):
    kind = "pigeon"
    label = "Carrier pigeon"
    description = "Messages tied to a pigeon's leg."
    form_class = PigeonForm

    def destination(self) -> str:
        return f"loft {self.config.get('loft', '')}"

    def render(self, context) -> Message:
        return Message(subject="", body="coo")

    def send(self, message, delivery) -> None:
        pass


@pytest.fixture
def pigeon():
    register(PigeonChannel)
    yield PigeonChannel
    unregister(PigeonChannel.kind)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_built_in_kinds_are_listed_in_order_with_their_labels():
    assert [kind for kind, _ in kind_choices()] == [channel.kind for channel in BUILT_IN]
    assert kind_label("teams") == "Microsoft Teams" and kind_label("gone") == "gone"


def test_a_registered_kind_joins_the_list_and_leaves_it_when_unregistered(pigeon):
    assert kind_choices()[-1] == ("pigeon", "Carrier pigeon")
    assert NotificationIntegration(kind="pigeon").kind_label == "Carrier pigeon"
    unregister("pigeon")
    assert "pigeon" not in dict(kind_choices()) and kind_label("pigeon") == "pigeon"


def test_registration_refuses_bad_or_clashing_kinds():
    class Unnamed(PigeonChannel):
        kind = "Not A Slug"

    class Impostor(PigeonChannel):
        kind = "email"

    class Unlabelled(PigeonChannel):
        kind = "unlabelled"
        label = ""

    for channel in (Unnamed, Impostor, Unlabelled):
        with pytest.raises(ImproperlyConfigured):
            register(channel)
    assert register(EmailChannel) is EmailChannel  # the same class again changes nothing
    assert "unlabelled" not in dict(kind_choices())


def test_integration_screens_offer_and_store_a_registered_kind(admin_client, pigeon):
    index = admin_client.get("/integrations/").content.decode()
    assert "Carrier pigeon" in index and 'href="/integrations/pigeon/add/"' in index
    answer = admin_client.post("/integrations/pigeon/add/", {"name": "Roof", "enabled": "on", "loft": "north"})
    assert answer.status_code == 302
    stored = NotificationIntegration.objects.get(name="Roof")
    assert stored.kind == "pigeon" and stored.config == {"loft": "north"}
    listing = admin_client.get("/integrations/pigeon/").content.decode()
    assert "Roof" in listing and "loft north" in listing


def test_policy_form_offers_a_registered_kind_as_output_type(admin_client, pigeon):
    NotificationIntegration.objects.create(name="Roof", kind="pigeon", config={"loft": "north"})
    page = admin_client.get("/policies/response/add/").content.decode()
    assert '<option value="pigeon">Carrier pigeon</option>' in page
    assert '<optgroup label="Carrier pigeon">' in page and "Roof" in page


def test_api_accepts_and_documents_a_registered_kind(admin_api, pigeon):
    answer = admin_api.post(
        "/api/v1/integrations/", {"name": "Roof", "kind": "pigeon", "config": {"loft": "north"}}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["kind"] == "pigeon" and answer.json()["config"] == {"loft": "north"}
    listed = admin_api.get("/api/v1/integrations/", {"kind": "pigeon"}).json()["results"]
    assert [row["name"] for row in listed] == ["Roof"]
    refused = admin_api.post(
        "/api/v1/integrations/", {"name": "Shed", "kind": "pigeon", "config": {"colour": "grey"}}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["config"] == {
        "colour": ["Unknown setting for pigeon."],
        "loft": ["This field is required."],
    }
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "pigeon" in _kind_enum(schema) and "email" in _kind_enum(schema)
    (kind_filter,) = [p for p in schema["paths"]["/api/v1/integrations/"]["get"]["parameters"] if p["name"] == "kind"]
    assert "pigeon" in kind_filter["schema"]["enum"]


def _kind_enum(schema: dict) -> list[str]:
    """The values the schema allows for an integration's ``kind`` (an inline enum or a referenced one)."""
    schemas = schema["components"]["schemas"]
    kind = schemas["IntegrationRequest"]["properties"]["kind"]
    for node in [kind, *kind.get("allOf", []), *kind.get("oneOf", [])]:
        if "$ref" in node:
            node = schemas[node["$ref"].rsplit("/", 1)[-1]]
        if "enum" in node:
            return node["enum"]
    raise AssertionError(f"no enum for kind in {kind}")
