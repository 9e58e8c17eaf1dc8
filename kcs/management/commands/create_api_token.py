"""Create an API token for a user and print only its key (for scripts: KEY=$(manage.py create_api_token ci))."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kcs import tokens


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print the key alone on stdout. The key is stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A name to recognise the token by (default: cli)")

    def handle(self, *args, username: str, name: str, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        _, key = tokens.issue(None, user, name)  # logged as made by the system
        self.stdout.write(key)
