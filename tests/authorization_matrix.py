"""The authorization matrix: every route of ``kcs/urls.py`` (screens, ``/api/v1/``, the public and special pages),
and for each HTTP method that matters, what a caller needs to get past the door.

Read by tests/test_authorization_matrix.py, which fails for a route missing here. An entry says:

- ``screen(...)`` or ``api(...)``: screens are called with a signed-in session (anonymous: redirected to sign in),
  API routes with an API token (anonymous: 401);
- per method, the access it takes — ``PUBLIC``, ``SIGNED_IN``, ``STAFF`` (Django admin), ``BEARER`` (the metrics
  token, no session or API token opens it), ``needs(right, ...)`` (every one of these rights of
  :mod:`kcs.rights`) or ``any_of(right, ...)`` — and the statuses a caller who has it gets (``ok``; writes are sent
  with an empty body, so a form or serializer answers 400 with its field messages);
- ``obj``: for a route with an id, the kind of object the id names (made by the test module);
  kinds in :data:`SCOPED_KINDS` are made twice, once inside the scope "prod" and once inside "staging";
- ``lists``: for a list of a scoped kind, that kind (the caller must find the objects of its scopes there, and
  only those);
- ``kwargs``: the route's other URL arguments.

Which callers hold which rights is not written here: it comes from :data:`kcs.rights.SYSTEM_ROLES` (the README's
rights table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcs.rights import (
    MANAGE_ACCESS,
    MANAGE_INTEGRATIONS,
    MANAGE_OWN_TOKENS,
    MANAGE_POLICIES,
    MANAGE_RISKS,
    MANAGE_SCOPES,
    MANAGE_SILENCES,
    POST_EVENTS,
    VIEW_ACCESS,
    VIEW_EVENTS,
    VIEW_INTEGRATIONS,
    VIEW_POLICIES,
    VIEW_RISKS,
    VIEW_SCOPES,
    VIEW_SECURITY_LOG,
    VIEW_SILENCES,
)

# Object kinds that follow the caller's scopes (issue 10 §3): outside the caller's active scopes such an object is a
# 404. The matrix makes each of them inside "prod" and inside "staging".
SCOPED_KINDS = frozenset(
    {"event", "image", "vulnerability", "risk_acceptance", "policy", "scope", "silence", "notification"}
)
# The scoped kinds whose routes already hide an object outside the caller's scopes on this branch. The 404 cases of
# the others are expected to fail (strict xfail): when one starts passing, its kind belongs here.
SCOPING_LANDED: frozenset[str] = SCOPED_KINDS
# Screens that show the event named in their query string (``?event=<id>``), by the kind whose scoping covers them:
# an event outside the caller's scopes must be left out as if it did not exist.
EVENT_IN_QUERY = {"events:accept": "event", "policies:silence-add": "silence"}


@dataclass(frozen=True)
class Access:
    """What a caller needs: ``kind`` is public, signed_in, staff, bearer, all (every right) or any (one right)."""

    kind: str
    rights: tuple[str, ...] = ()

    def allows(self, rights: frozenset[str] | None) -> bool:
        """Whether a caller holding ``rights`` (None: not signed in) gets past the door."""
        if self.kind == "public":
            return True
        if rights is None or self.kind in ("staff", "bearer"):
            return False  # no caller of the matrix is staff or holds the metrics token
        if self.kind == "signed_in":
            return True
        if self.kind == "any":
            return any(right in rights for right in self.rights)
        return all(right in rights for right in self.rights)

    def __str__(self) -> str:
        if self.kind in ("all", "any"):
            return f"{self.kind} of {', '.join(self.rights)}"
        return self.kind


PUBLIC = Access("public")
SIGNED_IN = Access("signed_in")
STAFF = Access("staff")
BEARER = Access("bearer")


def needs(*rights: str) -> Access:
    return Access("all", rights)


def any_of(*rights: str) -> Access:
    return Access("any", rights)


@dataclass(frozen=True)
class Call:
    method: str
    access: Access
    ok: tuple[int, ...]  # the statuses of a caller who has the access


@dataclass(frozen=True)
class Entry:
    kind: str  # "screen" or "api"
    calls: tuple[Call, ...]
    obj: str | None = None
    kwargs: dict = field(default_factory=dict)
    lists: str | None = None  # a list route: the scoped kind whose objects its GET shows


def get(access: Access, *ok: int) -> Call:
    return Call("GET", access, ok or (200,))


def post(access: Access, *ok: int) -> Call:
    return Call("POST", access, ok or (400,))


def put(access: Access, *ok: int) -> Call:
    return Call("PUT", access, ok or (400,))


def patch(access: Access, *ok: int) -> Call:
    return Call("PATCH", access, ok or (200,))


def delete(access: Access, *ok: int) -> Call:
    return Call("DELETE", access, ok or (204,))


def screen(*calls: Call, obj: str | None = None, lists: str | None = None, **kwargs) -> Entry:
    return Entry("screen", calls, obj, kwargs, lists)


def api(*calls: Call, obj: str | None = None, lists: str | None = None, **kwargs) -> Entry:
    return Entry("api", calls, obj, kwargs, lists)


def read_manage(view: str, manage: str, obj: str, *, delete_ok: tuple[int, ...] = (204,)) -> Entry:
    """An API detail route of a ModelViewSet: reading needs ``view``; PUT (empty: 400), PATCH (empty: 200) and
    DELETE (``delete_ok``) need ``manage``."""
    return api(
        get(needs(view)),
        put(needs(manage)),
        patch(needs(manage)),
        delete(needs(manage), *delete_ok),
        obj=obj,
    )


MATRIX: dict[str, Entry] = {
    # --- sign in, password, home: Django's views ----------------------------------------------------------------
    # Django's RedirectView answers every method with the redirect; its form views take PUT as POST.
    "home": screen(get(PUBLIC, 302), post(PUBLIC, 302), put(PUBLIC, 302), patch(PUBLIC, 302), delete(PUBLIC, 302)),
    "login": screen(get(PUBLIC), post(PUBLIC, 200), put(PUBLIC, 200)),
    "logout": screen(get(PUBLIC, 405), post(PUBLIC, 302)),
    "password_change": screen(get(SIGNED_IN), post(SIGNED_IN, 200), put(SIGNED_IN, 200)),  # errors with a 200
    "password_change_done": screen(get(SIGNED_IN)),
    "password_reset": screen(get(PUBLIC), post(PUBLIC, 200), put(PUBLIC, 200)),
    "password_reset_done": screen(get(PUBLIC)),
    "password_reset_confirm": screen(
        get(PUBLIC), post(PUBLIC, 200), put(PUBLIC, 200), uidb64="MQ", token="not-a-token"
    ),  # a link that is not valid: the page says so
    "password_reset_complete": screen(get(PUBLIC)),
    "password-change": screen(get(SIGNED_IN), post(SIGNED_IN)),
    "scope-switch": screen(get(SIGNED_IN, 405), post(SIGNED_IN, 302)),
    # --- health, metrics, admin, API schema ------------------------------------------------------------------------
    "healthz": api(get(PUBLIC)),
    "readyz": api(get(PUBLIC)),
    "metrics": api(get(BEARER)),
    "admin": screen(get(STAFF)),  # the whole Django admin: one entry
    "api-root": api(get(SIGNED_IN)),
    "schema": api(get(PUBLIC)),
    "api-docs": api(get(PUBLIC)),
    # --- own tokens, security event log, users and roles --------------------------------------------------------
    "tokens": screen(get(needs(MANAGE_OWN_TOKENS)), post(needs(MANAGE_OWN_TOKENS))),
    "token-revoke": screen(post(needs(MANAGE_OWN_TOKENS), 302), obj="own_token"),
    "security-log": screen(get(needs(VIEW_SECURITY_LOG))),
    "access-users": screen(get(needs(VIEW_ACCESS))),
    "access-user-add": screen(get(needs(MANAGE_ACCESS)), post(needs(MANAGE_ACCESS))),
    "access-users-reset": screen(get(needs(MANAGE_ACCESS), 405), post(needs(MANAGE_ACCESS), 302)),
    "access-user-edit": screen(get(needs(VIEW_ACCESS)), post(needs(MANAGE_ACCESS)), obj="user"),
    "access-user-delete": screen(get(needs(MANAGE_ACCESS)), post(needs(MANAGE_ACCESS), 302), obj="user"),
    "access-roles": screen(get(needs(VIEW_ACCESS))),
    "access-role-add": screen(get(needs(MANAGE_ACCESS)), post(needs(MANAGE_ACCESS))),
    "access-role-edit": screen(get(needs(VIEW_ACCESS)), post(needs(MANAGE_ACCESS)), obj="role"),
    "access-role-delete": screen(get(needs(MANAGE_ACCESS)), post(needs(MANAGE_ACCESS), 302), obj="role"),
    "audit-log-list": api(get(needs(VIEW_SECURITY_LOG))),
    "audit-log-detail": api(get(needs(VIEW_SECURITY_LOG)), obj="audit_entry"),
    "user-list": api(get(needs(VIEW_ACCESS)), post(needs(MANAGE_ACCESS))),
    "user-detail": read_manage(VIEW_ACCESS, MANAGE_ACCESS, "user"),
    "user-reset-password": api(post(needs(MANAGE_ACCESS), 200), obj="user"),
    "role-list": api(get(needs(VIEW_ACCESS)), post(needs(MANAGE_ACCESS))),
    "role-rights": api(get(needs(VIEW_ACCESS))),
    "role-detail": read_manage(VIEW_ACCESS, MANAGE_ACCESS, "role"),
    # --- security events, images, vulnerabilities, risk acceptances ---------------------------------------------
    "events:list": screen(get(needs(VIEW_EVENTS)), lists="event"),
    "events:detail": screen(get(needs(VIEW_EVENTS)), obj="event"),
    "events:accept": screen(get(needs(VIEW_EVENTS, MANAGE_RISKS)), post(needs(VIEW_EVENTS, MANAGE_RISKS))),
    "events:vulnerabilities": screen(get(needs(VIEW_EVENTS)), lists="vulnerability"),
    "events:images": screen(get(needs(VIEW_EVENTS)), lists="image"),
    "events:image-detail": screen(get(needs(VIEW_EVENTS)), obj="image"),
    "events:acceptance-list": screen(get(needs(VIEW_RISKS)), lists="risk_acceptance"),
    "events:acceptance-detail": screen(get(needs(VIEW_RISKS)), obj="risk_acceptance"),
    "events:acceptance-extend": screen(post(needs(VIEW_RISKS, MANAGE_RISKS)), obj="risk_acceptance"),
    "events:acceptance-cancel": screen(post(needs(VIEW_RISKS, MANAGE_RISKS), 302), obj="risk_acceptance"),
    "event-list": api(get(needs(VIEW_EVENTS)), post(needs(POST_EVENTS)), lists="event"),
    "event-detail": api(get(needs(VIEW_EVENTS)), obj="event"),
    "event-decisions": api(get(needs(VIEW_EVENTS, VIEW_POLICIES)), obj="event"),
    "ingest-trivy": api(post(needs(POST_EVENTS))),
    "ingest-grype": api(post(needs(POST_EVENTS))),
    "ingest-harbor": api(post(needs(POST_EVENTS))),
    "ingest-falco": api(post(needs(POST_EVENTS))),
    "image-list": api(get(needs(VIEW_EVENTS)), lists="image"),
    "image-detail": api(get(needs(VIEW_EVENTS)), obj="image"),
    "vulnerability-list": api(get(needs(VIEW_EVENTS)), lists="vulnerability"),
    "vulnerability-detail": api(get(needs(VIEW_EVENTS)), obj="vulnerability"),
    "risk-acceptance-list": api(get(needs(VIEW_RISKS)), post(needs(MANAGE_RISKS)), lists="risk_acceptance"),
    "risk-acceptance-detail": api(get(needs(VIEW_RISKS)), obj="risk_acceptance"),
    "risk-acceptance-extend": api(post(needs(MANAGE_RISKS)), obj="risk_acceptance"),
    "risk-acceptance-cancel": api(post(needs(MANAGE_RISKS), 200), obj="risk_acceptance"),
    # --- response policies, scopes, silences -----------------------------------------------------------------------
    "policies:response-list": screen(get(needs(VIEW_POLICIES)), lists="policy"),
    "policies:response-add": screen(get(needs(MANAGE_POLICIES)), post(needs(MANAGE_POLICIES))),
    "policies:response-edit": screen(get(needs(VIEW_POLICIES)), post(needs(MANAGE_POLICIES)), obj="policy"),
    "policies:response-toggle": screen(post(needs(MANAGE_POLICIES), 302), obj="policy"),
    "policies:response-delete": screen(get(needs(MANAGE_POLICIES)), post(needs(MANAGE_POLICIES), 302), obj="policy"),
    "policies:scope-list": screen(get(needs(VIEW_SCOPES)), lists="scope"),
    "policies:scope-add": screen(get(needs(MANAGE_SCOPES)), post(needs(MANAGE_SCOPES))),
    "policies:scope-edit": screen(get(needs(VIEW_SCOPES)), post(needs(MANAGE_SCOPES)), obj="scope"),
    "policies:scope-delete": screen(get(needs(MANAGE_SCOPES)), post(needs(MANAGE_SCOPES), 302), obj="scope"),
    "policies:silence-list": screen(get(needs(VIEW_SILENCES)), lists="silence"),
    "policies:silence-add": screen(get(needs(MANAGE_SILENCES)), post(needs(MANAGE_SILENCES))),
    "policies:silence-detail": screen(get(needs(VIEW_SILENCES)), obj="silence"),
    "policies:silence-edit": screen(get(needs(MANAGE_SILENCES)), post(needs(MANAGE_SILENCES)), obj="silence"),
    "policies:silence-expire": screen(get(needs(MANAGE_SILENCES)), post(needs(MANAGE_SILENCES), 302), obj="silence"),
    "response-policy-list": api(get(needs(VIEW_POLICIES)), post(needs(MANAGE_POLICIES)), lists="policy"),
    "response-policy-detail": read_manage(VIEW_POLICIES, MANAGE_POLICIES, "policy"),
    "response-policy-preview": api(post(needs(MANAGE_POLICIES))),
    "scope-list": api(get(needs(VIEW_SCOPES)), post(needs(MANAGE_SCOPES)), lists="scope"),
    # The scopes are in use (by their policy, and prod by the custom role): deleting one is refused with a 400.
    "scope-detail": read_manage(VIEW_SCOPES, MANAGE_SCOPES, "scope", delete_ok=(400,)),
    "silence-list": api(get(needs(VIEW_SILENCES)), post(needs(MANAGE_SILENCES)), lists="silence"),
    "silence-detail": read_manage(VIEW_SILENCES, MANAGE_SILENCES, "silence"),
    "silence-expire": api(post(needs(MANAGE_SILENCES), 200), obj="silence"),
    # --- overview, integrations, the delivery log --------------------------------------------------------------
    "notifications:overview": screen(get(any_of(VIEW_EVENTS, VIEW_INTEGRATIONS))),
    "notifications:integration-index": screen(get(needs(VIEW_INTEGRATIONS))),
    "notifications:integration-list": screen(get(needs(VIEW_INTEGRATIONS)), kind="email"),
    "notifications:integration-add": screen(
        get(needs(MANAGE_INTEGRATIONS)), post(needs(MANAGE_INTEGRATIONS)), kind="email"
    ),
    "notifications:integration-detail": screen(get(needs(VIEW_INTEGRATIONS)), obj="integration", kind="email"),
    "notifications:integration-edit": screen(
        get(needs(MANAGE_INTEGRATIONS)), post(needs(MANAGE_INTEGRATIONS)), obj="integration", kind="email"
    ),
    # The integration is in use by the policies: deleting it is refused with a 409 naming them.
    "notifications:integration-delete": screen(
        get(needs(MANAGE_INTEGRATIONS)), post(needs(MANAGE_INTEGRATIONS), 409), obj="integration", kind="email"
    ),
    "notifications:integration-test": screen(post(needs(MANAGE_INTEGRATIONS), 302), obj="integration", kind="email"),
    "notifications:notification-list": screen(get(needs(VIEW_INTEGRATIONS)), lists="notification"),
    "notifications:notification-detail": screen(get(needs(VIEW_INTEGRATIONS)), obj="notification"),
    "notifications:notification-retry": screen(post(needs(MANAGE_INTEGRATIONS), 302), obj="notification"),
    "integration-list": api(get(needs(VIEW_INTEGRATIONS)), post(needs(MANAGE_INTEGRATIONS))),
    "integration-detail": read_manage(VIEW_INTEGRATIONS, MANAGE_INTEGRATIONS, "integration", delete_ok=(409,)),
    "integration-test": api(post(needs(MANAGE_INTEGRATIONS), 200), obj="integration"),
    "notification-list": api(get(needs(VIEW_INTEGRATIONS)), lists="notification"),
    "notification-detail": api(get(needs(VIEW_INTEGRATIONS)), obj="notification"),
    "notification-retry": api(post(needs(MANAGE_INTEGRATIONS), 200), obj="notification"),
}
