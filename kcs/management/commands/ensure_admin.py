"""Make sure the superuser ``admin`` exists, with the IS administrator role; print its password when it was
generated."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from kcs.env import persistent_secret
from kcs.models import Role
from kcs.passwords import generate_password

ADMIN_ROLE = "ISADM"


class Command(BaseCommand):
    help = "Create the superuser 'admin' (IS administrator role) if missing (password: KCS_ADMIN_PASSWORD, else generated into var/)."

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
            "KCS_ADMIN_PASSWORD", password_file, factory=generate_password
        )
        admin = User.objects.create_superuser("admin", "admin@localhost", password)
        admin.groups.add(Role.objects.get(role_id=ADMIN_ROLE).group)
        if settings.KCS_ADMIN_PASSWORD:
            self.stdout.write("Admin login: admin / (the password in KCS_ADMIN_PASSWORD)")
        else:
            self.stdout.write(self.style.SUCCESS(f"Admin login: admin / {password}   (kept in {password_file})"))
