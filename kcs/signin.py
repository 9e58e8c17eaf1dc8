"""Sign-in protection (django-axes) and the sign-in entries of the security event log.

Protection: after ``KCS_LOGIN_FAILURE_LIMIT`` failed sign-ins for one user name *or* from one address within
``KCS_LOGIN_FAILURE_WINDOW`` minutes, sign-ins for that name or from that address are refused for
``KCS_LOGIN_LOCKOUT_MINUTES`` minutes, even with the right password (the screens' login and the admin's alike; the
refusal renders ``kcs/locked_out.html`` with status 429). Failures are counted on axes' failure log (one row per
failure), so the window and the lockout have their own lengths; attempts refused during a lockout do not prolong it.

Log: a successful sign-in, a sign-out, a failure (with the user name tried and the address), the lockout itself and
the password changes and resets. Attempts refused during a lockout are aggregated: one entry per user name and
address per lockout, whose ``attempts`` counts them, so an attacker hammering a locked name does not grow the log.
"""

from __future__ import annotations

import contextvars
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username, get_failure_limit
from axes.models import AccessFailureLog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import pre_save
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from kcs.audit import client_ip, source_of
from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource

OBJECT_TYPE = "user"
# URL names of the views that set a forgotten password (the others that set one are changes).
RESET_VIEWS = {"password_reset_confirm"}

_current_request: contextvars.ContextVar = contextvars.ContextVar("kcs_current_request", default=None)


def failure_limit(request=None, credentials=None) -> int:
    """``AXES_FAILURE_LIMIT``: failed sign-ins in the window that lock a user name or an address out."""
    return settings.KCS_LOGIN_FAILURE_LIMIT


def lockout_time(request=None) -> timedelta:
    """``AXES_COOLOFF_TIME``: how long a lockout lasts."""
    return timedelta(minutes=settings.KCS_LOGIN_LOCKOUT_MINUTES)


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a sign-in for a locked-out user name or address before any password is checked.

    ``authenticate()`` without a request (Django's test client, a script) is not a sign-in from the network: it is
    left to the next backend instead of failing as axes' own backend does.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, counting failures in a window of their own (``KCS_LOGIN_FAILURE_WINDOW``).

    Axes' own count runs as long as failures keep coming within its cool-off of each other; here only the failures
    of the last window count, and a lockout (the failure that reached the limit, marked ``locked_out``) lasts
    ``KCS_LOGIN_LOCKOUT_MINUTES`` from that failure.
    """

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        # The failure being handled is stored after axes decides on the lockout: count it meanwhile.
        if request is not None:
            request.kcs_failure_pending = True
        try:
            return super().user_login_failed(sender, credentials, request, **kwargs)
        finally:
            if request is not None:
                request.kcs_failure_pending = False

    def reset_attempts(self, *, ip_address=None, username=None, ip_or_username=False) -> int:
        """``manage.py axes_reset``, ``axes_reset_username`` and ``axes_reset_ip``: the failures counted here go
        too, so the lockout ends at once."""
        failures = AccessFailureLog.objects.all()
        if ip_or_username:
            failures = failures.filter(Q(ip_address=ip_address) | Q(username=username))
        else:
            if ip_address:
                failures = failures.filter(ip_address=ip_address)
            if username:
                failures = failures.filter(username=username)
        failures.delete()
        return super().reset_attempts(ip_address=ip_address, username=username, ip_or_username=ip_or_username)

    def clean_expired_user_attempts(self, request=None, credentials=None) -> int:
        """Axes' own clean-up, and the failures that neither the window nor a lockout needs any more (axes keeps
        them for ever otherwise; the security event log keeps the sign-in history)."""
        keep = max(timedelta(minutes=settings.KCS_LOGIN_FAILURE_WINDOW), lockout_time(request))
        AccessFailureLog.objects.filter(attempt_time__lt=timezone.now() - keep).delete()
        return super().clean_expired_user_attempts(request, credentials)

    def get_failures(self, request, credentials: dict | None = None) -> int:
        now = getattr(request, "axes_attempt_time", None) or timezone.now()
        window_start = now - timedelta(minutes=settings.KCS_LOGIN_FAILURE_WINDOW)
        lockout_start = now - lockout_time(request)
        username = get_client_username(request, credentials)
        parameters = get_client_parameters(
            username, request.axes_ip_address, request.axes_user_agent, request, credentials
        )
        worst = 0
        for filters in parameters:
            failures = AccessFailureLog.objects.filter(**filters)
            if failures.filter(locked_out=True, attempt_time__gt=lockout_start).exists():
                return get_failure_limit(request, credentials)
            worst = max(worst, failures.filter(attempt_time__gt=window_start).count())
        return worst + (1 if getattr(request, "kcs_failure_pending", False) else 0)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """The answer to a sign-in refused by a lockout: the sign-in page's place, status 429, saying why and how long."""
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": settings.KCS_LOGIN_FAILURE_LIMIT,
        "window_minutes": settings.KCS_LOGIN_FAILURE_WINDOW,
        "lockout_minutes": settings.KCS_LOGIN_LOCKOUT_MINUTES,
    }
    response = render(request, "kcs/locked_out.html", context, status=429)
    response["Retry-After"] = str(settings.KCS_LOGIN_LOCKOUT_MINUTES * 60)
    return response


class CurrentRequestMiddleware:
    """Keeps the request at hand for the log entries of password changes (a model signal has no request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def _entry(
    request, action: str, username: str, user=None, changes: dict | None = None, *, actor=..., actor_name=None
) -> AuditEntry:
    """An Administration entry about the account ``username`` (``user`` when it exists); the actor is the account
    itself unless given (the name tried, for a failure with an unknown name)."""
    actor = user if actor is ... else actor
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=(actor_name or (actor.get_username() if actor is not None else username))[:150],
        action=action,
        category=AuditCategory.ADMINISTRATION,
        object_type=OBJECT_TYPE,
        object_id=str(user.pk) if user is not None else "",
        object_repr=username[:300],
        changes=changes or {},
        source=source_of(request) if request is not None else AuditSource.SYSTEM,
        ip_address=_address(request),
    )


def _address(request) -> str | None:
    # axes' address first (the one it counts on), else the socket's.
    return getattr(request, "axes_ip_address", None) or client_ip(request)


def _tried_name(credentials: dict | None) -> str:
    field = get_user_model().USERNAME_FIELD
    return str((credentials or {}).get(field) or (credentials or {}).get("username") or "")


def _from_a_view(request) -> bool:
    """A request that came through a URL. ``login()`` called with a bare request (the test client's
    ``force_login``, a script) signs nobody in from the network and is not logged."""
    return request is not None and bool(getattr(request, "path", ""))


def on_signed_in(sender, request, user, **kwargs) -> None:
    if _from_a_view(request):
        _entry(request, AuditAction.SIGN_IN, user.get_username(), user)


def on_signed_out(sender, request, user, **kwargs) -> None:
    if user is not None and _from_a_view(request):
        _entry(request, AuditAction.SIGN_OUT, user.get_username(), user)


def on_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    if request is None:
        return
    username = _tried_name(credentials)
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first() if username else None
    # Refused by an earlier lockout: axes flagged it before any password check and counted nothing.
    if getattr(request, "axes_locked_out", False) and getattr(request, "axes_failures_since_start", None) is None:
        _refused(request, username, user)
        return
    _entry(request, AuditAction.SIGN_IN_FAILED, username, user, {"user name": username})


def _refused(request, username: str, user) -> None:
    """One entry per address per lockout time, counting the refused attempts (whatever user names they tried)."""
    since = timezone.now() - lockout_time(request)
    with transaction.atomic():
        entry = (
            AuditEntry.objects.select_for_update()
            .filter(action=AuditAction.SIGN_IN_REFUSED, ip_address=_address(request), timestamp__gt=since)
            .order_by("-timestamp")
            .first()
        )
        if entry is None:
            _entry(request, AuditAction.SIGN_IN_REFUSED, username, user, {"attempts": 1, "reason": "locked out"})
            return
        names = entry.changes.get("user names", [entry.object_repr])
        if username not in names and len(names) < 20:
            names = [*names, username]
        entry.changes = {**entry.changes, "attempts": int(entry.changes.get("attempts", 0)) + 1, "user names": names}
        entry.save(update_fields=["changes"])


def on_locked_out(sender, request, username=None, ip_address=None, **kwargs) -> None:
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return  # a refused attempt during a lockout (logged by on_sign_in_failed), not a new lockout
    name = username or ""
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: name}).first() if name else None
    _entry(
        request,
        AuditAction.LOCKED_OUT,
        name,
        user,
        {
            "failed attempts": request.axes_failures_since_start,
            "window": f"{settings.KCS_LOGIN_FAILURE_WINDOW} min",
            "locked for": f"{settings.KCS_LOGIN_LOCKOUT_MINUTES} min",
        },
    )


def on_user_saved(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """A password set by ``set_password()`` and saved: a change, or a reset from the reset link's view.

    ``_password`` holds the new password until the save; Django's rehash on sign-in clears it first, so an upgraded
    hash is not logged as a change.
    """
    if raw or instance._state.adding or getattr(instance, "_password", None) is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    request = _current_request.get()
    match = getattr(request, "resolver_match", None)
    action = AuditAction.PASSWORD_RESET if match and match.url_name in RESET_VIEWS else AuditAction.PASSWORD_CHANGE
    actor = getattr(request, "user", None)
    if actor is None or not actor.is_authenticated:
        actor = instance if action == AuditAction.PASSWORD_RESET else None
    _entry(request, action, instance.get_username(), instance, actor=actor, actor_name=None if actor else "system")


def connect() -> None:
    """Connect the receivers (from ``KcsConfig.ready``; axes' own are connected before, being listed first)."""
    user_logged_in.connect(on_signed_in, dispatch_uid="kcs-audit-signed-in")
    user_logged_out.connect(on_signed_out, dispatch_uid="kcs-audit-signed-out")
    user_login_failed.connect(on_sign_in_failed, dispatch_uid="kcs-audit-sign-in-failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="kcs-audit-locked-out")
    pre_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="kcs-audit-password")
