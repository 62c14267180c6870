"""The lifecycle as data, in one place: for every transition, the states it leaves from, the
state it leads to, who may make it (a permission and a rule about the actor), what it requires
and whom it notifies. ``services.transition`` is the only code that applies it; pages, the API,
Open311 and the sweep all go through it.

    reported → accepted → dispatched → signed_for → handled → reviewed → closed
                 ↑  ↖ return ↙  ↑ send back ↙           rate / follow-up ↓ (unsatisfied)
                 reject, merge        transfer                   reopen → dispatched

Who may act (``Actor``):
- ``SCOPE``: the event lies in the actor's area (community, subdistrict or county staff);
- ``DEPARTMENT``: the actor is a member of the event's current department;
- ``LEVEL_ABOVE``: the actor's area is above the event's community and reaches the event's
  escalation level (a subdistrict for level 0 and 1, the county for level 2);
- ``REPORTER``: the account that reported it;
- ``SYSTEM``: the periodic sweep only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from linli.events.choices import OPEN_STATUSES, EventStatus, StepAction

S = EventStatus


class Actor(StrEnum):
    SCOPE = "scope"
    DEPARTMENT = "department"
    LEVEL_ABOVE = "level_above"
    REPORTER = "reporter"
    SYSTEM = "system"


class Notify(StrEnum):
    REPORTER = "reporter"  # and the reporters of merged duplicates, when it closes
    DEPARTMENT = "department"  # the members of the (new) handling department
    DISPATCHERS = "dispatchers"  # staff who may dispatch in the event's community
    LEVEL_ABOVE = "level_above"  # supervisors above the event's community


@dataclass(frozen=True)
class Transition:
    action: StepAction
    sources: frozenset[str]
    # None: the state does not change (urging, notes, extensions, rating).
    target: str | None
    permission: str
    actors: tuple[Actor, ...]
    requires: tuple[str, ...] = ()
    notifies: tuple[Notify, ...] = ()
    # Shown on the reporter's timeline.
    public: bool = False
    # Restarts the state's clock even when the state does not change (transfer).
    restarts_clock: bool = False
    extra: dict[str, object] = field(default_factory=dict)


_OPEN = frozenset(OPEN_STATUSES)
_WITH_DEPARTMENT = frozenset({S.DISPATCHED, S.SIGNED_FOR})

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition(
            StepAction.ACCEPT,
            frozenset({S.REPORTED}),
            S.ACCEPTED,
            "events.accept_event",
            (Actor.SCOPE,),
            notifies=(Notify.REPORTER,),
            public=True,
        ),
        Transition(
            StepAction.REJECT,
            frozenset({S.REPORTED, S.ACCEPTED}),
            S.REJECTED,
            "events.accept_event",
            (Actor.SCOPE,),
            requires=("note",),
            notifies=(Notify.REPORTER,),
            public=True,
        ),
        Transition(
            StepAction.MERGE,
            frozenset({S.REPORTED, S.ACCEPTED}),
            S.MERGED,
            "events.accept_event",
            (Actor.SCOPE,),
            requires=("into",),
            notifies=(Notify.REPORTER,),
            public=True,
        ),
        Transition(
            StepAction.DISPATCH,
            frozenset({S.ACCEPTED}),
            S.DISPATCHED,
            "events.dispatch_event",
            (Actor.SCOPE,),
            requires=("department",),
            notifies=(Notify.DEPARTMENT,),
            public=True,
        ),
        Transition(
            StepAction.TRANSFER,
            _WITH_DEPARTMENT,
            S.DISPATCHED,
            "events.dispatch_event",
            (Actor.SCOPE,),
            requires=("department", "note"),
            notifies=(Notify.DEPARTMENT,),
            restarts_clock=True,
        ),
        Transition(
            StepAction.SIGN,
            frozenset({S.DISPATCHED}),
            S.SIGNED_FOR,
            "events.handle_event",
            (Actor.DEPARTMENT,),
            public=True,
        ),
        Transition(
            StepAction.RETURN,
            _WITH_DEPARTMENT,
            S.ACCEPTED,
            "events.handle_event",
            (Actor.DEPARTMENT,),
            requires=("note",),
            notifies=(Notify.DISPATCHERS,),
        ),
        Transition(
            StepAction.REQUEST_EXTENSION,
            frozenset({S.SIGNED_FOR}),
            None,
            "events.handle_event",
            (Actor.DEPARTMENT,),
            requires=("until", "note"),
            notifies=(Notify.LEVEL_ABOVE,),
        ),
        Transition(
            StepAction.APPROVE_EXTENSION,
            frozenset({S.SIGNED_FOR}),
            None,
            "events.supervise_event",
            (Actor.LEVEL_ABOVE,),
            notifies=(Notify.DEPARTMENT,),
        ),
        Transition(
            StepAction.DENY_EXTENSION,
            frozenset({S.SIGNED_FOR}),
            None,
            "events.supervise_event",
            (Actor.LEVEL_ABOVE,),
            requires=("note",),
            notifies=(Notify.DEPARTMENT,),
        ),
        Transition(
            StepAction.PROGRESS,
            frozenset({S.SIGNED_FOR}),
            None,
            "events.handle_event",
            (Actor.DEPARTMENT,),
            requires=("note",),
        ),
        Transition(
            StepAction.HANDLE,
            frozenset({S.SIGNED_FOR}),
            S.HANDLED,
            "events.handle_event",
            (Actor.DEPARTMENT,),
            requires=("note",),
            notifies=(Notify.DISPATCHERS,),
            public=True,
        ),
        Transition(
            StepAction.SEND_BACK,
            frozenset({S.HANDLED}),
            S.SIGNED_FOR,
            "events.review_event",
            (Actor.SCOPE,),
            requires=("note",),
            notifies=(Notify.DEPARTMENT,),
        ),
        Transition(
            StepAction.REVIEW,
            frozenset({S.HANDLED}),
            S.REVIEWED,
            "events.review_event",
            (Actor.SCOPE,),
        ),
        Transition(
            StepAction.CLOSE,
            frozenset({S.REVIEWED}),
            S.CLOSED,
            "events.review_event",
            (Actor.SCOPE,),
            notifies=(Notify.REPORTER,),
            public=True,
        ),
        Transition(
            StepAction.RATE,
            frozenset({S.CLOSED}),
            None,
            "",
            (Actor.REPORTER,),
            requires=("rating",),
            public=True,
        ),
        Transition(
            StepAction.FOLLOW_UP,
            frozenset({S.CLOSED}),
            None,
            "events.followup_event",
            (Actor.SCOPE,),
            requires=("rating", "note"),
        ),
        Transition(
            StepAction.REOPEN,
            frozenset({S.CLOSED}),
            S.DISPATCHED,
            "events.supervise_event",
            (Actor.LEVEL_ABOVE, Actor.SYSTEM),
            requires=("note",),
            notifies=(Notify.DEPARTMENT, Notify.REPORTER),
            public=True,
        ),
        Transition(
            StepAction.CONFIRM_CLOSE,
            frozenset({S.CLOSED}),
            None,
            "events.supervise_event",
            (Actor.LEVEL_ABOVE,),
            requires=("note",),
            notifies=(Notify.REPORTER,),
            public=True,
        ),
        Transition(
            StepAction.URGE,
            _OPEN,
            None,
            "events.supervise_event",
            (Actor.SCOPE,),
            requires=("note",),
            notifies=(Notify.DEPARTMENT,),
        ),
        Transition(
            StepAction.ESCALATE,
            _OPEN,
            None,
            "events.supervise_event",
            (Actor.SCOPE, Actor.SYSTEM),
            notifies=(Notify.LEVEL_ABOVE,),
        ),
        Transition(
            StepAction.COMMENT,
            _OPEN | {S.CLOSED},
            None,
            "events.view_event",
            (Actor.SCOPE, Actor.DEPARTMENT),
            requires=("note",),
        ),
    )
}


def available(status: str) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if status in t.sources]
