"""``__in`` on integer columns leaves out values the column cannot hold, as Django's own ``exact`` does for one.

``Scope.objects.filter(pk__in=[1, 2**64])`` must find scope 1, not fail: SQLite cannot even bind an integer above
2**63 - 1 (OverflowError), and such ids arrive from forms (scope checkboxes, admin pickers) and JSON bodies
(``notification_methods``). Django answers out-of-range ``exact``, ``gt``… lookups itself
(``IntegerFieldOverflow``) but not ``in``. Registered on IntegerField (and so every id column) when the project
app is ready.
"""

from __future__ import annotations

from django.db.models import IntegerField
from django.db.models.lookups import In

from kcs import bounds

_LOWEST = -bounds.MAX_ID - 1  # 64-bit: what every integer column (and SQLite's binding) holds at most


class IntegerFieldIn(In):
    """``in`` without the integers beyond 64 bits (they match no row); none left: an empty result."""

    def get_prep_lookup(self):
        prepared = super().get_prep_lookup()
        if isinstance(prepared, list):  # plain values (not a subquery or expressions)
            prepared = [value for value in prepared if not isinstance(value, int) or _LOWEST <= value <= bounds.MAX_ID]
        return prepared


def register() -> None:
    IntegerField.register_lookup(IntegerFieldIn)
