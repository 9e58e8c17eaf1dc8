"""``manage.py ingest <trivy|grype|harbor|falco> <file|->``: the native ingest endpoints for cron jobs and air gaps.

Same path as ``POST /api/v1/ingest/<tool>/`` (same adapter, same ingest service, same idempotency); prints the
same JSON answer and exits non-zero when the input is refused, with nothing stored. Unlike the API it takes any
number of events (no ``KCS_MAX_EVENTS_PER_REQUEST``): a big report file is stored as one batch.
"""

from __future__ import annotations

import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from events import services
from events.adapters import ADAPTERS, HINT_FIELDS, AdapterError, clean_hints, ingest_native


class Command(BaseCommand):
    help = (
        "Store a scanner report or Falco alerts from FILE ('-' for standard input) as security events, exactly "
        "as POST /api/v1/ingest/<tool>/ does. Prints {received, created, duplicates, batch, ignored} as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("tool", choices=sorted(ADAPTERS), help="The tool whose native output FILE holds")
        parser.add_argument("file", help="Path of the report, or - to read standard input")
        parser.add_argument("--user", help="Username recorded as the batch's sender (default: none)")
        for name in HINT_FIELDS:
            parser.add_argument(f"--{name}", help=f"Fill the events' {name} where the report has none")

    def handle(self, *args, tool: str, file: str, user: str | None, **options):
        sender = None
        if user:
            try:
                sender = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user named {user!r}.") from None
        hints, errors = clean_hints({name: options[name] for name in HINT_FIELDS if options.get(name) is not None})
        if errors:
            raise CommandError("; ".join(f"--{name}: {' '.join(messages)}" for name, messages in errors.items()))
        try:
            if file == "-":
                body = sys.stdin.buffer.read()
            else:
                with open(file, "rb") as handle:
                    body = handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        try:
            outcome = ingest_native(tool, body, user=sender, hints=hints)
        except AdapterError as error:
            raise CommandError(f"{file}: {error.message}") from None
        except services.IngestValidationError as error:
            raise CommandError(f"{file}: {error.summary()}") from None
        self.stdout.write(json.dumps(outcome.as_dict()))
