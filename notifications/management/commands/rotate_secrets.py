"""Re-encrypt every integration's secrets with the first key of KCS_ENCRYPTION_KEY (the step between adding a new
key in front and dropping the old one)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from notifications.services import rotate_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt the secrets of every notification integration with the first key of KCS_ENCRYPTION_KEY. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        rotated, unreadable = rotate_secrets()
        self.stdout.write(
            f"Re-encrypted the secrets of {rotated} integration{'' if rotated == 1 else 's'} with the first key."
        )
        if unreadable:
            names = ", ".join(f"“{name}”" for name in unreadable)
            raise CommandError(
                f"No key in KCS_ENCRYPTION_KEY can read the secrets of {names}; they were left as they are. Put the "
                "key that wrote them back into KCS_ENCRYPTION_KEY and run this again, or enter their secrets again."
            )
