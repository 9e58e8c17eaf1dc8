"""Make sure the superuser ``admin`` exists; print its password when it was generated."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from kcs.env import persistent_secret


class Command(BaseCommand):
    help = "Create the superuser 'admin' if missing (password: KCS_ADMIN_PASSWORD, else generated into var/)."

    def handle(self, *args, **options):
        User = get_user_model()
        password_file = settings.VAR_DIR / "admin_password"
        if User.objects.filter(username="admin").exists():
            if settings.KCS_ADMIN_PASSWORD:
                hint = "the password in KCS_ADMIN_PASSWORD when it was created"
            elif password_file.exists():
                hint = f"see {password_file}"
            else:
                hint = "unchanged"
            self.stdout.write(f"Admin login: admin ({hint})")
            return
        password = settings.KCS_ADMIN_PASSWORD or persistent_secret(
            "KCS_ADMIN_PASSWORD", password_file, factory=lambda: secrets.token_urlsafe(12)
        )
        User.objects.create_superuser("admin", "admin@localhost", password)
        if settings.KCS_ADMIN_PASSWORD:
            self.stdout.write("Admin login: admin / (the password in KCS_ADMIN_PASSWORD)")
        else:
            self.stdout.write(self.style.SUCCESS(f"Admin login: admin / {password}   (kept in {password_file})"))
