"""Evaluation of ingested events against response policies: batch in, Notification rows out.

Until the delivery pipeline exists this only records that the batch was evaluated.
"""

from __future__ import annotations

from django.utils import timezone

from events.models import SecurityEvent


def evaluate_batch(batch_id: str) -> None:
    """Mark the batch's events evaluated (idempotent)."""
    SecurityEvent.objects.filter(batch_id=batch_id, evaluated_at__isnull=True).update(evaluated_at=timezone.now())
