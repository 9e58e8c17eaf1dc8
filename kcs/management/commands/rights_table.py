"""Print the rights table of the README (Markdown) from the rights catalog, :mod:`kcs.rights`."""

from django.core.management.base import BaseCommand

from kcs.rights import rights_table


class Command(BaseCommand):
    help = "Print the README's rights table (every right and the system roles that hold it) from the catalog."

    def handle(self, *args, **options):
        self.stdout.write(rights_table())
