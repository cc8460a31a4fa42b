"""Dashboard panels: each app registers what waits for each role.

A panel is a function `(user) -> Panel | None`; apps register theirs in `AppConfig.ready`
by importing their `dashboard` module.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

_PANELS: list[tuple[int, str | None, Callable]] = []


@dataclass
class PanelItem:
    label: str
    url: str = ""
    detail: str = ""
    post_url: str = ""  # an action on the item, sent as a POST form (a button)
    post_label: str = ""


@dataclass
class Panel:
    title: str
    items: list[PanelItem] = field(default_factory=list)
    empty: str = "Nothing waits for you here."
    count: int | str | None = None  # a number, or words such as "more than 1,000" (portal.keyset.count_words)
    action_url: str = ""
    action_label: str = ""
    note: str = ""  # what happens next, in a sentence or two


def panel(*, role: str | None, order: int = 50):
    """Register a panel shown to users holding `role` (None: every signed-in user)."""

    def register(func: Callable) -> Callable:
        _PANELS.append((order, role, func))
        _PANELS.sort(key=lambda entry: entry[0])
        return func

    return register


def panels_for(user) -> list[Panel]:
    shown = []
    for _order, role, func in _PANELS:
        if role is None or user.has_role(role):
            result = func(user)
            if result is not None:
                shown.append(result)
    return shown
