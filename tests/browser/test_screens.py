"""Every screen, found in the URL configuration, at a desktop (1440 px) and a phone (390 px) width: it answers 200,
the page never scrolls sideways, and axe-core finds no serious or critical accessibility violation.

New screens are covered without editing this file when their routes take no parameters; a route with parameters
fails the walk until ``SCREEN_PARAMETERS`` says how to fill them from the objects of the ``screen_objects`` fixture.
Set ``KCS_SCREENSHOTS=var/screenshots`` to also save a full-page screenshot of every screen at both widths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from events import insight
from events.models import Image
from kcs.models import Role
from notifications.models import NotificationStatus
from tests.factories import (
    PASSWORD,
    ApiTokenFactory,
    AuditEntryFactory,
    NotificationFactory,
    NotificationIntegrationFactory,
    ResponsePolicyFactory,
    RiskAcceptanceFactory,
    ScopeFactory,
    SecurityEventFactory,
    SilenceFactory,
    UserFactory,
)
from tests.helpers import login

# Not screens: the REST API (its schema and Swagger page included) and Django's admin, which is checked through
# ADMIN_SCREENS below (its own routes are Django's, not ours).
NOT_SCREENS = ("api/", "admin/")
ADMIN_SCREENS = ("/admin/", "/admin/policies/responsepolicy/")
SEVERE = {"serious", "critical"}
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1440, "height": 900}
LOAD_TIMEOUT = 45_000  # ms: the machine running the suite may be busy

# How to fill each screen route's path parameters from ``screen_objects`` (keyed by the route's qualified name).
SCREEN_PARAMETERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "events:detail": lambda o: {"pk": o["event"].pk},
    "notifications:integration-list": lambda o: {"kind": o["integration"].kind},
    "notifications:integration-add": lambda o: {"kind": o["integration"].kind},
    "notifications:integration-detail": lambda o: {"kind": o["integration"].kind, "pk": o["integration"].pk},
    "notifications:integration-edit": lambda o: {"kind": o["integration"].kind, "pk": o["integration"].pk},
    "notifications:integration-delete": lambda o: {"kind": o["integration"].kind, "pk": o["integration"].pk},
    "notifications:notification-detail": lambda o: {"pk": o["notification"].pk},
    "policies:response-edit": lambda o: {"pk": o["policy"].pk},
    "policies:response-delete": lambda o: {"pk": o["policy"].pk},
    "policies:scope-edit": lambda o: {"pk": o["scope"].pk},
    "policies:scope-delete": lambda o: {"pk": o["scope"].pk},
    "policies:silence-detail": lambda o: {"pk": o["silence"].pk},
    "policies:silence-edit": lambda o: {"pk": o["silence"].pk},
    "policies:silence-expire": lambda o: {"pk": o["silence"].pk},
    "events:acceptance-detail": lambda o: {"pk": o["acceptance"].pk},
    "events:image-detail": lambda o: {"pk": o["image"].pk},
    "access-user-edit": lambda o: {"pk": o["colleague"].pk},
    "access-user-delete": lambda o: {"pk": o["colleague"].pk},
    "access-role-edit": lambda o: {"pk": o["role"].pk},
    "access-role-delete": lambda o: {"pk": o["role"].pk},
    "password_reset_confirm": lambda o: {
        "uidb64": urlsafe_base64_encode(force_bytes(o["user"].pk)),
        "token": default_token_generator.make_token(o["user"]),
    },
}


@dataclass(frozen=True)
class Route:
    route: str  # e.g. "events/<id:pk>/"
    name: str  # qualified, e.g. "events:detail"; the route itself when unnamed
    callback: Callable
    parameters: frozenset[str]

    @property
    def answers_get(self) -> bool:
        """False for action routes whose view has no GET handler (toggle, test, retry, revoke, logout)."""
        view_class = getattr(self.callback, "view_class", None)
        if view_class is None:
            return True  # a function view: the walk learns from its answer (405, not HTML) whether it is a screen
        return hasattr(view_class, "get") and "get" in view_class.http_method_names

    def url(self, objects: dict[str, Any]) -> str:
        values = SCREEN_PARAMETERS[self.name](objects) if self.parameters else {}
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(values[match.group(1)]), self.route)
        return "/" + path.lstrip("^").rstrip("$")


def walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace]))
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = ":".join(filter(None, [namespace, entry.name])) if entry.name else route
            parameters = frozenset(re.findall(r"<(?:\w+:)?(\w+)>", route)) | frozenset(entry.pattern.regex.groupindex)
            yield Route(route, name, entry.callback, parameters)


def screen_routes() -> list[Route]:
    """Every route of ours that a browser can GET, in URL-configuration order."""
    return [
        route
        for route in walk(get_resolver().url_patterns)
        if not route.route.lstrip("^").startswith(NOT_SCREENS) and route.answers_get
    ]


def unfilled(route: Route) -> str | None:
    """Why the walk cannot visit ``route``, or None when it can."""
    if not route.parameters or route.name in SCREEN_PARAMETERS:
        return None
    return (
        f"The screen route {route.route!r} ({route.name}) takes {sorted(route.parameters)}: add an object for it to "
        "the screen_objects fixture and an entry to SCREEN_PARAMETERS in tests/browser/test_screens.py, so the "
        "browser tests visit it."
    )


def test_every_screen_route_with_parameters_can_be_filled():
    problems = [problem for route in screen_routes() if (problem := unfilled(route))]
    assert not problems, "\n".join(problems)


@pytest.fixture
def screen_objects(transactional_db) -> dict[str, Any]:
    """One object of each kind a screen shows, with long values where a narrow screen could overflow."""
    long_repository = "platform-team/payments-service-backend-with-a-rather-long-repository-name"
    scope = ScopeFactory(
        name="Production clusters",
        clusters=["prod-eu-west-1-kubernetes-cluster", "prod-us-east-*"],
        namespaces=["payments", "checkout-*"],
        registries=["registry.example.com"],
        repositories=["platform-team/*"],
    )
    integration = NotificationIntegrationFactory(kind="webhook", name="SOC webhook receiver")
    email = NotificationIntegrationFactory(kind="email", name="SOC mailbox")
    policy = ResponsePolicyFactory(
        name="Critical vulnerabilities in production",
        description="Page the on-call engineer when a critical CVE lands in a production image.",
        methods=[integration, email],
        scopes=[scope],
    )
    event = SecurityEventFactory(
        title="openssl: X.400 address type confusion in X.509 GeneralName (CVE-2023-0286)",
        repository=long_repository,
        cluster="prod-eu-west-1-kubernetes-cluster",
        namespace="payments",
        pod="payments-service-backend-7d9f8b6c5d-x2k9q",
        description="There is a type confusion vulnerability relating to X.400 address processing inside an "
        "X.509 GeneralName. " * 3,
        details={"PrimaryURL": "https://avd.aquasec.com/nvd/cve-2023-0286", "References": ["https://x.example"] * 3},
    )
    notification = NotificationFactory(
        integration=integration,
        policy=policy,
        policy_name=policy.name,
        events=[event],
        status=NotificationStatus.FAILED,
        attempts=5,
        subject="[KCS] Critical: openssl: X.400 address type confusion in " + long_repository,
        body="1 critical vulnerability in registry.example.com/" + long_repository + ":1.4.2\n" * 4,
        last_error="HTTP 404 from https://hooks.example.com/kcs/" + "a" * 80 + ": not found (permanent)",
        sent_at=None,
    )
    NotificationFactory(integration=email, policy=policy, status=NotificationStatus.SENT, sent_at=timezone.now())
    admin = UserFactory(username="admin", superuser=True)
    token = ApiTokenFactory(user=admin, name="CI pipeline", expires_at=timezone.now() + timedelta(days=30))
    AuditEntryFactory(
        actor_name="admin",
        object_type="response policy",
        object_id=str(policy.pk),
        object_repr=policy.name,
        changes={"enabled": [True, False], "description": ["", policy.description]},
    )
    silence = SilenceFactory(
        matchers={"finding_id": "CVE-2023-0286", "repository": "platform-team/*"},
        comment="Vendor fix scheduled for the next release of the payments service backend.",
        policies=[policy.pk],
    )
    acceptance = RiskAcceptanceFactory(
        finding_id=event.finding_id, repository=long_repository, reason="Not reachable: the service never parses X.400."
    )
    insight.rebuild()  # the image its event reports (factories store events without the ingest service)
    role_group = Group.objects.create(name="Payments team reviewers")
    role = Role.objects.create(group=role_group, role_id="PAYREV", description="Reviews the payments team's findings.")
    colleague = UserFactory(username="platform.engineer@example.com", groups=["IS officer", role_group.name])
    return {
        "image": Image.objects.get(repository=long_repository),
        "role": role,
        "colleague": colleague,
        "silence": silence,
        "acceptance": acceptance,
        "scope": scope,
        "integration": integration,
        "policy": policy,
        "event": event,
        "notification": notification,
        "user": admin,
        "token": token,
    }


def overflow(page) -> str | None:
    """Why the page scrolls sideways (its widest offenders), or None when it does not."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] <= widths[1]:
        return None
    culprits = page.evaluate(
        """(limit) => [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > limit + 1)
            .filter(el => !el.parentElement || el.parentElement.getBoundingClientRect().right <= limit + 1)
            .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''))""",
        widths[1],
    )
    return f"scrolls sideways: scrollWidth {widths[0]} > innerWidth {widths[1]} (widest: {', '.join(culprits)})"


def severe_violations(axe: Axe, page) -> str | None:
    results = axe.run(page).response["violations"]
    severe = [v for v in results if v["impact"] in SEVERE]
    if not severe:
        return None
    return "; ".join(
        f"axe {v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:3])}"
        for v in severe
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
@pytest.mark.django_db(transaction=True)
def test_every_screen_fits_the_width_and_passes_axe(browser, live_server, screen_objects, viewport):
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT)
    page.set_default_navigation_timeout(LOAD_TIMEOUT)
    axe = Axe()
    shots = os.environ.get("KCS_SCREENSHOTS")
    problems: list[str] = []
    visited: list[str] = []
    try:
        # The sign-in page as a signed-out visitor sees it (the walk below sees it signed in).
        page.goto("/login/", wait_until="load")
        problems.extend(f"/login/ (signed out): {p}" for p in (overflow(page), severe_violations(axe, page)) if p)
        login(page, "admin", PASSWORD)
        routes = screen_routes()
        problems.extend(problem for route in routes if (problem := unfilled(route)))
        screens = [(route.name, route.url(screen_objects)) for route in routes if not unfilled(route)]
        for name, url in [*screens, *((f"admin{url}", url) for url in ADMIN_SCREENS)]:
            answer = page.goto(url, wait_until="load")
            page.wait_for_load_state("load")
            content_type = answer.headers.get("content-type", "") if answer else ""
            if answer and (answer.status == 405 or not content_type.startswith("text/html")):
                continue  # an action or a machine endpoint (health, metrics), not a screen
            visited.append(url)
            if answer is None or answer.status != 200:
                problems.append(f"{url}: answered {answer.status if answer else 'nothing'}")
                continue
            for problem in (overflow(page), severe_violations(axe, page)):
                if problem:
                    problems.append(f"{url}: {problem}")
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "home"
                page.screenshot(path=f"{shots}/{slug}-{viewport['width']}.png", full_page=True)
    finally:
        context.close()
    assert "/events/" in visited and "/admin/" in visited, visited
    assert not problems, f"At {viewport['width']} px:\n" + "\n".join(problems)
