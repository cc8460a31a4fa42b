"""The catalogue's dashboard panel for stewards: their datasets by status and the file scans running."""

from django.urls import reverse

from catalogue.models import DatasetStatus, FileScan, FileScanStatus
from catalogue.permissions import holders_stewarded_by
from catalogue.selectors import datasets_count_by_status, datasets_stewarded_by
from portal.dashboard import Panel, PanelItem, panel
from portal.models import Role


@panel(role=Role.STEWARD, order=40)
def steward_panel(user):
    holders = list(holders_stewarded_by(user))
    if not holders:
        return Panel(
            title="Your datasets", empty="You do not steward any institution yet; the Research Data Office can add you."
        )
    counts = datasets_count_by_status(datasets_stewarded_by(user))
    items = [
        PanelItem(status.label, url=reverse("catalogue:steward-datasets"), detail=str(counts[status.value]))
        for status in DatasetStatus
    ]
    scans = FileScan.objects.filter(
        dataset__holder__in=holders, status__in=(FileScanStatus.QUEUED, FileScanStatus.RUNNING)
    ).select_related("dataset")
    for scan in scans[:10]:
        progress = (
            f"{scan.files_done} of {scan.files_total} files" if scan.status == FileScanStatus.RUNNING else "queued"
        )
        items.append(
            PanelItem(
                f"Registering files of {scan.dataset.identifier}",
                url=reverse("catalogue:steward-dataset-files", args=[scan.dataset.identifier]),
                detail=progress,
            )
        )
    return Panel(
        title="Your datasets",
        items=items,
        count=sum(counts.values()),
        action_url=reverse("catalogue:steward-dataset-create"),
        action_label="Describe a new dataset",
    )
