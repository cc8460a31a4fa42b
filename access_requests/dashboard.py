from access_requests.models import CommitteeMembership
from portal.dashboard import Panel, PanelItem, panel
from portal.models import Role


@panel(role=Role.COMMITTEE, order=30)
def committee_panel(user):
    memberships = CommitteeMembership.objects.filter(user=user).select_related("committee")
    return Panel(
        title="Your committees",
        items=[
            PanelItem(m.committee.name, detail=f"{m.get_role_display()} · quorum {m.committee.quorum}")
            for m in memberships
        ],
        empty="You are not on any access committee.",
    )


@panel(role=Role.RESEARCHER, order=10)
def researcher_panel(user):
    return Panel(
        title="Your access applications",
        empty="You have no applications yet. Find datasets in the catalogue to start one.",
    )
