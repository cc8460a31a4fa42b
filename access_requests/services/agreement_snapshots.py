"""What a data-access agreement covers, as plain data: the snapshot a version is rendered from and
signed over (access_requests/services/agreements.py keeps the workflow). Reads only."""

import hashlib

from django.conf import settings

from access_requests.models import (
    Application,
    DatasetDecision,
    LegalStatement,
    PartyKind,
    ReviewRound,
)
from catalogue.models import DataHolder

# The annex lists at most this many files per dataset; the manifest digest always covers them all
# (sha256sum format, sorted by path), so the agreement binds every file of a dataset of any size.
ANNEX_FILES_PER_DATASET = 500


# --- what the agreement covers ---------------------------------------------------------------


def _approval_round(application: Application) -> ReviewRound | None:
    return (
        ReviewRound.objects.filter(application=application, outcome=ReviewRound.Outcome.APPROVED)
        .select_related("committee", "decided_by")
        .order_by("-number")
        .first()
    )


def _approved_requested(application: Application, review_round: ReviewRound) -> list:
    """The requested datasets the approval covers: those the chair approved one by one, else all."""
    decisions = {d.requested_id: d for d in DatasetDecision.objects.filter(round=review_round)}
    requested = application.requested.select_related("dataset__holder__node", "access_mode").order_by("pk")
    if not decisions:
        return list(requested)
    return [item for item in requested if decisions.get(item.pk) is not None and decisions[item.pk].approved]


def _manifest(dataset) -> dict:
    """The dataset's files: count, total size, the digest of the full manifest, and the annex's share of it."""
    from catalogue.models import DatasetFile

    digest = hashlib.sha256()
    count = total = 0
    listed = []
    rows = DatasetFile.objects.filter(dataset=dataset).order_by("path").values_list("path", "sha256", "size_bytes")
    for path, sha256, size in rows.iterator(chunk_size=5000):
        digest.update(f"{sha256}  {path}\n".encode())
        count += 1
        total += size
        if len(listed) < ANNEX_FILES_PER_DATASET:
            listed.append({"path": path, "sha256": sha256, "size": size})
    return {
        "files": count,
        "size_bytes": total,
        "manifest_sha256": digest.hexdigest(),
        "manifest": listed,
        "manifest_truncated": count > len(listed),
    }


def _parameters_text(parameters: dict) -> str:
    if not parameters:
        return ""
    parts = []
    for key, value in sorted(parameters.items()):
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def _dataset_entry(item) -> dict:
    dataset = item.dataset
    conditions = [
        {
            "code": use.term.code,
            "duo": use.term.external_code,
            "label": use.term.label,
            "description": use.term.description,
            "parameters": _parameters_text(use.parameters),
        }
        for use in dataset.use_conditions.select_related("term").order_by("term__code")
    ]
    return {
        "identifier": dataset.identifier,
        "title": dataset.title,
        "version": dataset.version,
        "holder": dataset.holder.name,
        "holder_id": dataset.holder_id,
        "access_mode": item.access_mode.label if item.access_mode else "",
        "declared_size_bytes": dataset.size_bytes,
        "subjects": dataset.subjects_count,
        "studies": dataset.studies_count,
        "use_conditions": conditions,
        **_manifest(dataset),
        # held at a partner node, which enforces the grant where the data live (federation/grants.py)
        **({"node": dataset.holder.node.name} if dataset.holder.node_id else {}),
    }


def _parties(application: Application, datasets: list[dict]) -> list[dict]:
    reps = getattr(application, "representations", None)
    institution = (reps.institution_legal_name if reps else "") or application.organisation
    representative = ", ".join(part for part in (reps.signatory_name, reps.signatory_role) if part) if reps else ""
    parties = [
        {
            "kind": PartyKind.SIGNATORY.value,
            "name": institution,
            "representative": representative,
            "email": reps.signatory_email if reps else "",
            "holder_id": None,
        }
    ]
    holders = {}
    for entry in datasets:
        holders.setdefault(entry["holder_id"], entry["holder"])
    # A partner node's holder (a harvested dataset's) is no party: its node agreed, in the federation
    # agreement, to enforce the grants this node's committee issues (federation/grants.py), and this
    # node's Research Data Office signs for the infrastructure on that footing.
    remote = dict(
        DataHolder.objects.filter(pk__in=holders, node__isnull=False).values_list("pk", "node__name").order_by()
    )
    for holder_id, name in sorted(holders.items(), key=lambda pair: pair[1]):
        if holder_id in remote:
            continue
        parties.append(
            {
                "kind": PartyKind.STEWARD.value,
                "name": name,
                "representative": f"a data steward of {name}",
                "email": "",
                "holder_id": holder_id,
            }
        )
    representative = "an administrator of the Research Data Office"
    if remote:
        representative += ", also for the data holders at partner nodes, under their federation agreements"
    parties.append(
        {
            "kind": PartyKind.RDO.value,
            "name": f"{settings.SITE_NAME}, through its Research Data Office",
            "representative": representative,
            "email": "",
            "holder_id": None,
        }
    )
    return parties


def agreement_snapshot(application: Application, review_round: ReviewRound) -> dict:
    """Everything the agreement says, as plain data: what a version is rendered from and signed over."""
    datasets = [_dataset_entry(item) for item in _approved_requested(application, review_round)]
    refused = [
        {"identifier": d.requested.dataset.identifier, "reason": d.reason}
        for d in DatasetDecision.objects.filter(round=review_round, approved=False).select_related("requested__dataset")
    ]
    team = [
        {"name": member.user.full_name, "email": member.user.email, "role": member.role}
        for member in application.team.filter(user__isnull=False, joined_at__isnull=False)
        .select_related("user")
        .order_by("pk")
    ]
    reps = getattr(application, "representations", None)
    statements = [
        {
            "text": acceptance.text,
            "accepted_at": acceptance.accepted_at.isoformat(),
            "by": acceptance.accepted_by.full_name,
        }
        for acceptance in application.statement_acceptances.filter(voided_at__isnull=True)
        .select_related("accepted_by")
        .order_by("pk")
    ]
    end = application.access_end
    return {
        "application": {
            "reference": application.reference,
            "title": application.title,
            "lay_summary": application.lay_summary,
            "intended_use": application.intended_use,
            "purpose": application.get_purpose_display() if application.purpose else "",
            "commercial_use": application.commercial_use,
            "methods_development": application.methods_development,
            "organisation": application.organisation,
            "country": application.organisation_country,
        },
        "decision": {
            "round": review_round.number,
            "committee": review_round.committee.name,
            "decided_at": review_round.closed_at.isoformat() if review_round.closed_at else "",
            "rationale": review_round.rationale,
            "conditions": review_round.conditions,
        },
        "period": {
            "start": application.access_start.isoformat() if application.access_start else "",
            "months": application.access_months,
            "end": end.isoformat() if end else "",
        },
        "team": team,
        "datasets": datasets,
        "refused": refused,
        "representations": {
            "institution": (reps.institution_legal_name if reps else "") or application.organisation,
            "signatory_name": reps.signatory_name if reps else "",
            "signatory_role": reps.signatory_role if reps else "",
            "signatory_email": reps.signatory_email if reps else "",
            "statements": statements,
            "all_statements": len(statements) == len(LegalStatement.values),
        },
        "parties": _parties(application, datasets),
    }


# What a change to each part of the snapshot is called, in the e-mail to those who had signed.
COVERED_PARTS = {
    "application": "the project's description",
    "decision": "the committee's decision or conditions of use",
    "period": "the access period",
    "team": "the team",
    "datasets": "the datasets or their files",
    "refused": "the datasets refused",
    "representations": "the institution's representations",
    "parties": "the parties",
}


def snapshot_changes(before: dict, after: dict) -> list[str]:
    """The parts of what the agreement covers that differ between two snapshots, in words."""
    return [words for key, words in COVERED_PARTS.items() if before.get(key) != after.get(key)]
