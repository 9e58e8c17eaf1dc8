"""Delivery leases: a claimed notification belongs to its worker only while that worker is alive.

Claiming a row (status *sending*) sets ``claimed_until = now + KCS_DELIVERY_LEASE``. While the send is in flight
the worker process renews the lease every third of it, from one daemon thread per process (:class:`LeaseKeeper`),
so a send may take as long as the task's time limit allows. A worker that is killed stops renewing: once the lease
has run out the row may be claimed again, and the delivery sweeper re-queues it — a killed worker's message is
sent again within the lease plus one sweep interval, instead of after the task's whole time limit.

A row is never sent by two workers at once: a live worker's lease never runs out, and the takeover changes
``claimed_at``, so the old claim can neither renew nor record an outcome any more.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from notifications.models import Notification, NotificationStatus

logger = logging.getLogger(__name__)


def lease() -> timedelta:
    return timedelta(seconds=settings.KCS_DELIVERY_LEASE)


def lease_until(now: datetime) -> datetime:
    """The end of a lease taken (or renewed) at ``now``."""
    return now + lease()


def renew_every() -> float:
    """Seconds between renewals: three per lease, so two can be late or fail before the lease runs out."""
    return settings.KCS_DELIVERY_LEASE / 3


class LeaseKeeper:
    """Renews the leases this process holds, from a daemon thread that touches the database only when a claim has
    been held for longer than :func:`renew_every` (most sends finish long before)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: dict[int, tuple[datetime, float]] = {}  # id -> (claimed_at of our claim, last renewal, monotonic)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    @contextmanager
    def holding(self, notifications: Iterable[Notification]) -> Iterator[None]:
        """Keep the leases of these claimed notifications while the block runs."""
        notifications = list(notifications)
        self.hold(notifications)
        try:
            yield
        finally:
            self.release(notifications)

    def hold(self, notifications: Iterable[Notification]) -> None:
        self._ensure_thread()
        now = time.monotonic()
        with self._lock:
            for notification in notifications:
                self._held[notification.pk] = (notification.claimed_at, now)

    def release(self, notifications: Iterable[Notification]) -> None:
        with self._lock:
            for notification in notifications:
                held = self._held.get(notification.pk)
                if held is not None and held[0] == notification.claimed_at:
                    del self._held[notification.pk]

    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():  # a forked pool process: the parent's thread and lock did not come along
            self._lock = threading.Lock()
            self._held = {}
            self._thread = None
            self._pid = os.getpid()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="kcs-lease-keeper", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(min(1.0, renew_every() / 4))
            try:
                self.renew_due()
            except Exception:  # a database hiccup: the next tick tries again (two renewals may fail per lease)
                logger.warning("could not renew delivery leases", exc_info=True)
                connection.close()

    def renew_due(self) -> int:
        """Renew the leases held for at least :func:`renew_every`; returns how many were renewed."""
        threshold = time.monotonic() - renew_every()
        with self._lock:
            due = [(pk, claimed_at) for pk, (claimed_at, renewed) in self._held.items() if renewed <= threshold]
        if not due:
            return 0
        close_old_connections()  # this thread's own connection: drop it when broken or too old
        until = lease_until(timezone.now())
        renewed = 0
        for pk, claimed_at in due:
            updated = Notification.objects.filter(
                pk=pk, status=NotificationStatus.SENDING, claimed_at=claimed_at
            ).update(claimed_until=until)
            with self._lock:
                if pk in self._held and self._held[pk][0] == claimed_at:
                    if updated:
                        self._held[pk] = (claimed_at, time.monotonic())
                    else:  # finished meanwhile, or taken over after this process stalled past its lease
                        del self._held[pk]
            renewed += updated
        return renewed


keeper = LeaseKeeper()
