from catalogue.models import DataHolder
from portal.dashboard import Panel, PanelItem, panel
from portal.models import Role


@panel(role=Role.STEWARD, order=40)
def steward_panel(user):
    holders = DataHolder.objects.filter(stewardships__user=user)
    return Panel(
        title="Institutions you steward",
        items=[PanelItem(h.name, detail=f"{h.city}, {h.country}" if h.city else h.country) for h in holders],
        empty="You do not steward any institution yet; the Research Data Office can add you.",
    )
