"""Every route of the product, called by every kind of caller, answers as the authorization matrix
(tests/authorization_matrix.py) and the rights catalog (kcs.rights, the README's rights table) say.

Callers: nobody signed in; a member of each system role; a member of a custom role with the IS officer's rights held
only on the scope "prod" (cluster prod, repositories prod/*). Screens are called with a session, API routes with an
API token. A caller without the access is refused (anonymous: sent to sign in on a screen, 401 from the API; signed
in: 403); one with it gets one of the entry's statuses, never 401, 403 or 500. Objects of the scoped kinds exist
inside "prod" and inside "staging": unrestricted callers reach both, the prod-only caller only the first (404 for
the other).

The objects are made once for the module (in a transaction rolled back at its end); every request runs in a
savepoint that is rolled back, so a DELETE or an expiry in one case changes nothing for the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import Finding, Image, SecurityEvent
from kcs.rights import MANAGE_GLOBAL_SCOPE, RIGHTS, SYSTEM_ROLE_IDS, SYSTEM_ROLES, VIEW_GLOBAL_SCOPE
from tests.authorization_matrix import EVENT_IN_QUERY, MATRIX, SCOPED_KINDS, SCOPING_LANDED, Call, Entry
from tests.factories import (
    ApiTokenFactory,
    AuditEntryFactory,
    NotificationFactory,
    NotificationIntegrationFactory,
    RiskAcceptanceFactory,
    ScopeFactory,
    SilenceFactory,
    UserFactory,
    finding,
    ingest_at,
    make_policy,
    make_role,
)

pytestmark = pytest.mark.django_db
MATRIX_FILE = "tests/authorization_matrix.py"
PLACES = ("prod", "staging")


# --- callers --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    name: str
    rights: frozenset[str] | None  # None: not signed in
    scoped: bool = False  # holds only the scope "prod"

    def __str__(self) -> str:
        return self.name


SCOPED_ROLE = "PRODTEAM"
CALLERS = (
    Caller("anonymous", None),
    *(Caller(spec.role_id, frozenset(spec.rights)) for spec in SYSTEM_ROLES),
    # A custom role with the IS officer's rights, on the cluster prod only.
    Caller(SCOPED_ROLE, frozenset(SYSTEM_ROLE_IDS["ISOFF"].rights), scoped=True),
)


# --- the routes -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    pattern: str
    callback: Any = None  # None: the Django admin


def url_routes() -> dict[str, Route]:
    """Every route of the URL configuration by its name (``namespace:name``). The Django admin is one route,
    ``admin``."""
    routes: dict[str, Route] = {}

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    routes["admin"] = Route(text)
                    continue
                inner = ":".join(filter(None, [namespace, pattern.namespace])) or None
                walk(pattern.url_patterns, text, inner)
            else:
                name = ":".join(filter(None, [namespace, pattern.name])) if pattern.name else f"<unnamed> {text}"
                routes[name] = Route(text, pattern.callback)

    walk(get_resolver().url_patterns, "/", None)
    return routes


def answered_methods(callback) -> set[str]:
    """The methods a route's view has a handler for (OPTIONS and HEAD aside); empty for a function view."""
    if actions := getattr(callback, "actions", None):  # a viewset's route: the router's method → action map
        # DRF adds "head" to this very map on the first request the view serves: left aside, as for other views.
        return {method.upper() for method in actions if method not in ("options", "head")}
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view is None:
        return set()
    return {name.upper() for name in view.http_method_names if name not in ("options", "head") and hasattr(view, name)}


def test_every_route_is_in_the_matrix():
    routes = url_routes()
    missing = sorted(set(routes) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(routes))
    problems = [
        f"route {name!r} ({routes[name].pattern}) has no entry: add one to MATRIX in {MATRIX_FILE}" for name in missing
    ]
    problems += [f"MATRIX in {MATRIX_FILE} has an entry for {name!r}, which no route has: remove it" for name in stale]
    assert not problems, "\n".join(problems)


def test_every_method_a_route_answers_is_in_the_matrix():
    unchecked = []
    for name, route in url_routes().items():
        if name in MATRIX:
            methods = answered_methods(route.callback) - {call.method for call in MATRIX[name].calls}
            unchecked += [f"{method} {route.pattern} ({name})" for method in sorted(methods)]
    assert not unchecked, f"answered but not in MATRIX ({MATRIX_FILE}):\n" + "\n".join(unchecked)


def test_the_matrix_speaks_of_every_right_of_the_catalog():
    named = {right for entry in MATRIX.values() for call in entry.calls for right in call.access.rights}
    catalog = {right.permission for right in RIGHTS}
    assert named <= catalog, f"not rights of kcs.rights: {named - catalog}"
    # The Global scope's rights decide which scopes a person holds and may give, not which routes they reach.
    assert catalog - named == {VIEW_GLOBAL_SCOPE, MANAGE_GLOBAL_SCOPE}


# --- the objects ----------------------------------------------------------------------------------------------------
@dataclass
class World:
    sessions: dict[str, str]  # caller → session key
    tokens: dict[str, str]  # caller → API token key
    revocable: dict[str, Any]  # caller → another token of theirs (the revoke screen's object)
    objects: dict[str, Any]  # kind → the object, or {place: object} for scoped kinds
    # One client of each kind for every request: a new one loads the middleware again, and WhiteNoise then walks
    # every static file (most of the run's time).
    screens: Client = field(default_factory=Client)
    api: APIClient = field(default_factory=APIClient)

    def client(self, entry: Entry, caller: Caller) -> Client:
        """The shared client of the entry's kind, carrying ``caller``'s session or API token and nothing else."""
        self.screens.cookies = SimpleCookie()
        self.api.cookies = SimpleCookie()
        self.api.credentials()
        if entry.kind == "api":
            if caller.rights is not None:
                self.api.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[caller.name]}")
            return self.api
        if caller.rights is not None:
            self.screens.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[caller.name]
        return self.screens

    def object(self, kind: str, caller: Caller, place: str) -> Any:
        if kind == "own_token":
            return self.revocable[caller.name if caller.rights is not None else SCOPED_ROLE]
        return self.objects[kind][place] if kind in SCOPED_KINDS else self.objects[kind]


def build_world() -> World:
    # Each place has a cluster and repositories: risk acceptances carry no cluster, so only a repository pattern
    # puts one inside a scope or outside it.
    scopes = {place: ScopeFactory(name=place, clusters=[place], repositories=[f"{place}/*"]) for place in PLACES}
    people = {
        spec.role_id: UserFactory(username=f"matrix-{spec.role_id.lower()}", groups=[spec.name])
        for spec in SYSTEM_ROLES
    }
    scoped_role = make_role(SCOPED_ROLE, rights=SYSTEM_ROLE_IDS["ISOFF"].rights, scopes=[scopes["prod"]])
    people[SCOPED_ROLE] = UserFactory(username="matrix-prodteam")
    people[SCOPED_ROLE].groups.add(scoped_role.group)
    sessions = {}
    signing_in = Client()
    for name, person in people.items():
        signing_in.force_login(person)
        sessions[name] = signing_in.cookies[settings.SESSION_COOKIE_NAME].value
        signing_in.cookies = SimpleCookie()  # the next force_login starts a new session

    integration = NotificationIntegrationFactory(kind="email", name="matrix mail")  # sends nowhere in tests
    objects: dict[str, Any] = {"integration": integration}
    for kind in SCOPED_KINDS:
        objects[kind] = {}
    for number, place in enumerate(PLACES):
        cve = f"CVE-2026-{9000 + number}"
        ingest_at(
            timezone.now() - timedelta(minutes=5),
            [finding(repository=f"{place}/web", finding_id=cve, cluster=place, namespace="shop")],
        )
        event = SecurityEvent.objects.get(cluster=place)
        policy = make_policy(f"{place} policy", [integration], scopes=[scopes[place]])
        objects["scope"][place] = scopes[place]
        objects["event"][place] = event
        objects["image"][place] = Image.objects.get(repository=f"{place}/web")
        objects["vulnerability"][place] = Finding.objects.get(finding_id=cve)
        objects["policy"][place] = policy
        objects["silence"][place] = SilenceFactory(
            matchers={"cluster": place, "repository": f"{place}/*"}, policies=[policy.pk]
        )
        objects["notification"][place] = NotificationFactory(  # failed: a retry has something to do
            integration=integration, policy=policy, policy_name=policy.name, events=[event], status="failed"
        )
        objects["risk_acceptance"][place] = RiskAcceptanceFactory(repository=f"{place}/web", finding_id=cve)
    objects["audit_entry"] = AuditEntryFactory()
    objects["user"] = UserFactory(username="matrix-spare")
    objects["role"] = make_role("SPARE")
    return World(
        sessions=sessions,
        tokens={name: ApiTokenFactory(user=person, name="matrix").key for name, person in people.items()},
        revocable={name: ApiTokenFactory(user=person, name="revocable") for name, person in people.items()},
        objects=objects,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The callers and objects, made once for the module and rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


# --- calling and judging --------------------------------------------------------------------------------------------
def path_of(route: str, entry: Entry, obj: Any) -> str:
    if route == "admin":
        return "/admin/"
    kwargs = dict(entry.kwargs)
    if obj is not None:
        kwargs["pk"] = obj.pk
    return reverse(route, kwargs=kwargs)


def send(client: Client, entry: Entry, method: str, path: str):
    """One request with an empty body, in a savepoint rolled back after it."""
    with transaction.atomic():
        if method == "GET":
            response = client.get(path)
        elif entry.kind == "api":
            response = client.generic(method, path, "" if method == "DELETE" else "{}", content_type="application/json")
        else:
            response = client.generic(method, path, "", content_type="application/x-www-form-urlencoded")
        transaction.set_rollback(True)
    return response


def verdict(entry: Entry, call: Call, caller: Caller, response) -> str | None:
    """What is wrong with ``response`` (None: nothing)."""
    status = response.status_code
    location = response.get("Location", "")
    if call.access.allows(caller.rights):
        if status not in call.ok:
            return f"{status}, expected one of {call.ok} (the caller has {call.access})"
        if entry.kind == "api" and status == 400 and not (response.json().get("errors") or None):
            return f"400 without field messages: {response.content[:200]!r}"
        return None
    if call.access.kind == "staff":
        good, expected = status == 302 and location.startswith("/admin/login/"), "302 to the admin's sign-in"
    elif call.access.kind == "bearer":
        code = 401 if settings.KCS_METRICS_TOKEN else 404
        good, expected = status == code, f"{code} (no metrics bearer token)"
    elif caller.rights is None and entry.kind == "screen":
        login = resolve_url(settings.LOGIN_URL)
        good, expected = status == 302 and location.startswith(f"{login}?next="), f"302 to {login}"
    elif caller.rights is None:
        good, expected = status == 401, "401"
    else:
        good, expected = status == 403, f"403 (it needs {call.access})"
    return None if good else f"{status}{f' to {location}' if location else ''}, expected {expected}"


# How a list screen shows an object of each scoped kind: a link to its page (vulnerabilities: the finding id).
SCREEN_LINKS = {
    "event": "events:detail",
    "image": "events:image-detail",
    "risk_acceptance": "events:acceptance-detail",
    "policy": "policies:response-edit",
    "scope": "policies:scope-edit",
    "silence": "policies:silence-detail",
    "notification": "notifications:notification-detail",
}


def shows(entry: Entry, response, obj: Any) -> bool:
    """Whether the list in ``response`` (a 200) shows ``obj``."""
    if entry.kind == "api":
        data = response.json()
        return any(item["id"] == obj.pk for item in (data["results"] if isinstance(data, dict) else data))
    html = response.content.decode()
    if entry.lists == "vulnerability":
        return f">{obj.finding_id}<" in html
    link = reverse(SCREEN_LINKS[entry.lists], kwargs={"pk": obj.pk})
    return re.search(rf"[\"']{re.escape(link)}[\"'?#]", html) is not None


def listed_wrongly(world: World, entry: Entry, caller: Caller, response, outside: bool) -> list[str]:
    """What a list answered with a 200 shows wrongly: the caller's prod object must be there; the staging one
    too for an unrestricted caller, and not for the prod-only caller (checked when ``outside``)."""
    prod, staging = (world.objects[entry.lists][place] for place in PLACES)
    wrong = [] if shows(entry, response, prod) else [f"the prod {entry.lists} #{prod.pk} is missing"]
    if outside and shows(entry, response, staging):
        wrong.append(f"the staging {entry.lists} #{staging.pk} is shown")
    if not caller.scoped and not shows(entry, response, staging):
        wrong.append(f"the staging {entry.lists} #{staging.pk} is missing")
    return wrong


def places_for(entry: Entry, call: Call, caller: Caller) -> tuple[str | None, ...]:
    """Which objects ``caller`` calls the route with: none for a route without one; a scoped kind's prod object,
    and its staging one when an unrestricted caller has the access (a refusal comes before the object is looked
    up; the prod-only caller's staging case is the test below)."""
    if entry.obj is None:
        return (None,)
    if entry.obj in SCOPED_KINDS and not caller.scoped and call.access.allows(caller.rights):
        return PLACES
    return ("prod",)


@pytest.mark.parametrize(
    "route,caller",
    [(route, caller) for route in MATRIX for caller in CALLERS],
    ids=lambda value: str(value),
)
def test_route_answers_each_caller_as_the_matrix_says(world, route: str, caller: Caller):
    entry = MATRIX[route]
    wrong = []
    for call in entry.calls:
        for place in places_for(entry, call, caller):
            obj = world.object(entry.obj, caller, place) if entry.obj else None
            path = path_of(route, entry, obj)
            try:
                response = send(world.client(entry, caller), entry, call.method, path)
            except Exception as exc:  # a 500: the test client re-raises the view's exception
                wrong.append(f"{call.method} {path}: raised {exc!r}")
                continue
            if problem := verdict(entry, call, caller, response):
                wrong.append(f"{call.method} {path}{f' ({place} object)' if place else ''}: {problem}")
            elif entry.lists and call.method == "GET" and response.status_code == 200:
                wrong += [f"GET {path}: {problem}" for problem in listed_wrongly(world, entry, caller, response, False)]
    assert not wrong, f"{caller} on {route} ({MATRIX_FILE}):\n" + "\n".join(wrong)


def scoped_case(route: str, kind: str, caller: Caller):
    marks = []
    if kind not in SCOPING_LANDED:
        reason = f"{kind} objects do not follow scopes yet: once this passes, add {kind!r} to SCOPING_LANDED in "
        marks.append(pytest.mark.xfail(strict=True, reason=reason + MATRIX_FILE))
    return pytest.param(route, caller, id=f"{route}-{caller}", marks=marks)


SCOPED_CASES = [
    scoped_case(route, entry.obj or entry.lists, caller)
    for route, entry in MATRIX.items()
    if entry.obj in SCOPED_KINDS or entry.lists
    for caller in CALLERS
    if caller.scoped and any(call.access.allows(caller.rights) for call in entry.calls)
]


@pytest.mark.parametrize("route,caller", SCOPED_CASES)
def test_scoped_caller_finds_nothing_outside_its_scopes(world, route: str, caller: Caller):
    """An object outside the caller's scopes is a 404 on its routes, and missing from its lists."""
    entry = MATRIX[route]
    path = path_of(route, entry, world.object(entry.obj, caller, "staging") if entry.obj else None)
    wrong = []
    for call in entry.calls:
        if not call.access.allows(caller.rights) or (entry.lists and call.method != "GET"):
            continue  # refused before the object is looked up (the test above checks it), or not a list's read
        try:
            response = send(world.client(entry, caller), entry, call.method, path)
        except Exception as exc:
            wrong.append(f"{call.method} {path}: raised {exc!r}")
            continue
        if entry.lists and call.method == "GET":
            if response.status_code != 200:
                wrong.append(f"GET {path}: {response.status_code}, expected 200")
            else:
                wrong += [f"GET {path}: {problem}" for problem in listed_wrongly(world, entry, caller, response, True)]
        elif entry.obj and response.status_code != 404:
            wrong.append(f"{call.method} {path} (staging object): {response.status_code}, expected 404")
    assert not wrong, f"{caller} (scope prod only) on {route}:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "route,caller",
    [scoped_case(route, kind, caller) for route, kind in EVENT_IN_QUERY.items() for caller in CALLERS if caller.scoped],
)
def test_scoped_caller_cannot_name_an_event_outside_its_scopes(world, route: str, caller: Caller):
    """``?event=<id>`` of an event outside the caller's scopes shows nothing of it (one inside is shown)."""
    entry = MATRIX[route]
    shown = {}
    for place in PLACES:
        event = world.objects["event"][place]
        response = send(world.client(entry, caller), entry, "GET", f"{reverse(route)}?event={event.pk}")
        assert response.status_code == 200, f"GET {route}?event=<{place} event>: {response.status_code}"
        shown[place] = event.repository in response.content.decode()
    assert shown == {"prod": True, "staging": False}, f"{caller} (scope prod only) on {route}?event=<id>"
