"""``manage.py rebuild_insight``: recompute the Overview, Images and Vulnerabilities read models from the events."""

from django.core.management.base import BaseCommand

from events.insight import rebuild


class Command(BaseCommand):
    help = "Recompute the hourly event counts, images, open findings and finding IDs from the stored events."

    def handle(self, *args, **options):
        for name, count in rebuild().items():
            self.stdout.write(f"{name:<16} {count}")
