"""Periodic jobs of the event hub."""

from __future__ import annotations

import logging

from linli.core.jobs import periodic

log = logging.getLogger("linli.events")


@periodic("events.sweep", 60)
def events_sweep() -> None:
    """Mark overdue steps and escalate them after the grace period (every minute)."""
    from linli.events.services import sweep

    result = sweep()
    if result.overdue or result.escalated:
        log.info("event sweep: %d overdue, %d escalated", result.overdue, result.escalated)


@periodic("events.hotline_retry", 60)
def events_hotline_retry() -> None:
    """Send the 12345 platform the status updates still owed to it (nothing when no callback
    URL is set)."""
    from linli.events.hotline import retry_deliveries

    retry_deliveries()
