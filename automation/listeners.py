"""The automation engine as a consumer of events (settings.EVENT_CONSUMERS).

The outbox dispatcher (logs.outbox) hands each batch of events here: one
query finds the enabled 'event' rules of the batch's characters and event
names, then every listening rule runs once per event. The run's key is the
event's id (automation.runs.run_key), so an event delivered again after a
crashed dispatch creates nothing; a follower milestone runs only the rules
whose own "every" it crossed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from automation.rules import DEFAULT_MILESTONE, EVENTS
from automation.runs import run_rule
from automation.selectors import event_listeners
from logs.models import Event


def consume(events: Sequence[Event]) -> Callable[[Event], None]:
    """Prepare a batch (one query); returns what handles each of its events."""
    listeners = event_listeners(
        (event.name, event.character_id) for event in events if event.name in EVENTS
    )

    def handle(event: Event) -> None:
        if event.character_id is None:
            return
        for rule_id, config in listeners.get((event.name, event.character_id), []):
            if event.name == "follower_milestone" and not crossed(
                config, event.payload
            ):
                continue
            run_rule(
                rule_id,
                trigger="event",
                event=event.name,
                event_id=event.pk,
                payload=event.payload,
            )

    return handle


def crossed(config: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Whether the follower count passed one of the rule's milestones."""
    every = config.get("every", DEFAULT_MILESTONE)
    platform = config.get("platform")
    if platform and payload.get("platform") != platform:
        return False
    try:
        before, after = int(payload["previous"]), int(payload["current"])
    except (KeyError, TypeError, ValueError):
        return False
    return after // every > before // every
