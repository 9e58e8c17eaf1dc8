"""``manage.py purge [--dry-run]``: delete now what the hourly retention purge would (see policies/retention.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kcs.retention import PURGE_CHUNK, REST_RATIO, Budget
from policies.retention import purge


class Command(BaseCommand):
    help = (
        "Delete events, batches, notifications and repeat marks older than KCS_RETENTION_DAYS and security event log "
        "entries older than KCS_AUDIT_RETENTION_DAYS (never what a pending notification still needs); prints how "
        "many of each."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing")
        parser.add_argument("--chunk-size", type=int, default=PURGE_CHUNK, help="Rows per transaction")
        parser.add_argument(
            "--rest",
            type=float,
            default=REST_RATIO,
            help="After each chunk, rest this many times as long as it took (0: as fast as it can)",
        )

    def handle(self, *args, dry_run: bool, chunk_size: int, rest: float, **options):
        if chunk_size < 1 or rest < 0:
            raise CommandError("--chunk-size must be at least 1 and --rest at least 0.")
        report = purge(dry_run=dry_run, chunk=chunk_size, budget=Budget(rest_ratio=rest))
        self.stdout.write(
            f"{'Would delete' if dry_run else 'Deleted'} what was received before {report.cutoff:%Y-%m-%d %H:%M %Z} "
            f"(KCS_RETENTION_DAYS={settings.KCS_RETENTION_DAYS}); security event log entries before "
            f"{report.audit_cutoff:%Y-%m-%d %H:%M %Z} (KCS_AUDIT_RETENTION_DAYS={settings.KCS_AUDIT_RETENTION_DAYS}):"
        )
        width = max(len(kind) for kind in report.deleted)
        for kind, number in report.deleted.items():
            self.stdout.write(f"  {kind:<{width}}  {number:>12,}")
        if not dry_run:
            self.stdout.write(f"in {report.seconds:.1f} s.")
