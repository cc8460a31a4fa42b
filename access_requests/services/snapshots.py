"""Frozen copies of what was submitted, and the field-by-field changes between two of them."""

from dataclasses import dataclass

from access_requests.models import Application, Section
from access_requests.services.documents import SNAPSHOT_DOCUMENTS

# What a snapshot reads besides the application's own row: `select_related(*SNAPSHOT_RELATED)` and
# `prefetch_related(*snapshot_prefetch())` for whoever builds many snapshots at once, so that building
# each one asks the database nothing (`manage.py check_invariants` does, for every submitted one).
# The related rows are read with only the columns a snapshot shows.
SNAPSHOT_RELATED = ("dpia", "representations")


def snapshot_prefetch() -> tuple:
    from django.db.models import Prefetch

    from access_requests.models import ApplicationDataset, EthicsApproval, StatementAcceptance
    from catalogue.models import Dataset, Term
    from portal.models import User

    datasets = Dataset.objects.only("identifier")
    return (
        Prefetch("purpose_conditions", Term.objects.only("code")),
        Prefetch(
            "requested",
            ApplicationDataset.objects.select_related("access_mode")
            .prefetch_related(Prefetch("dataset", datasets))
            .only("application_id", "dataset_id", "access_mode_id", "justification", "access_mode__label"),
        ),
        "team",
        Prefetch(
            "ethics_approvals",
            EthicsApproval.objects.prefetch_related(
                Prefetch(
                    "datasets",
                    ApplicationDataset.objects.only("dataset_id").prefetch_related(Prefetch("dataset", datasets)),
                )
            ),
        ),
        "dpia__risks",
        Prefetch(
            "statement_acceptances",
            StatementAcceptance.objects.only(
                "application_id", "statement", "voided_at", "accepted_by_id"
            ).prefetch_related(Prefetch("accepted_by", User.objects.only("email"))),
        ),
    )


def _related(owner, name: str, *select: str) -> list:
    """`owner.<name>` in its model's order: the prefetched rows when the caller prefetched them, else
    one query (with `select` joined)."""
    if name in getattr(owner, "_prefetched_objects_cache", {}):
        return list(getattr(owner, name).all())
    manager = getattr(owner, name)
    return list(manager.select_related(*select) if select else manager.all())


def snapshot_documents(application: Application) -> list[dict]:
    """The stored documents a submission includes: they stay in storage, and downloadable from the
    application's history, after they are removed or replaced (see services/documents.py)."""
    documents = [
        {
            "kind": "ethics",
            "approval": a.pk,
            "path": a.document_path,
            "name": a.document_name,
            "sha256": a.document_sha256,
            "size": a.document_size,
        }
        for a in _related(application, "ethics_approvals")
    ]
    dpia = application.dpia
    if dpia.document_path:
        documents.append(
            {"kind": "dpia", "path": dpia.document_path, "name": dpia.document_name, "sha256": dpia.document_sha256}
        )
    return documents


def application_snapshot(application: Application) -> dict:
    """Everything the applicant submitted, as JSON, by section, and (outside the sections, so that
    changes between submissions are read field by field) the documents it included."""
    dpia = application.dpia
    reps = application.representations
    return {
        SNAPSHOT_DOCUMENTS: snapshot_documents(application),
        Section.OVERVIEW: {
            "Title": application.title,
            "Lay summary": application.lay_summary,
            "Scientific description": application.scientific_description,
            "Timeline": application.timeline,
            "Intended use": application.intended_use,
            "Research purpose": application.get_purpose_display(),
            "Conditions studied": ", ".join(sorted(t.code for t in _related(application, "purpose_conditions"))),
            "Develops general methods": application.methods_development,
            "Commercial use": application.commercial_use,
            "Access start": str(application.access_start or ""),
            "Access months": application.access_months,
            "Organisation": application.organisation,
            "Organisation country": application.organisation_country,
            "Not-for-profit organisation": application.organisation_not_for_profit,
        },
        Section.DATASETS: {
            key: value
            for item in _related(application, "requested", "dataset", "access_mode")
            for key, value in (
                (item.dataset.identifier, item.justification),
                (f"{item.dataset.identifier} access mode", item.access_mode.label if item.access_mode else ""),
            )
        },
        Section.TEAM: {m.email: m.role for m in _related(application, "team")},
        Section.ETHICS: {
            f"{a.committee_name} {a.reference}": (
                f"approved {a.approved_on}, expires {a.expires_on}, covers "
                f"{', '.join(sorted(d.dataset.identifier for d in _related(a, 'datasets', 'dataset')))}, "
                f"document sha256 {a.document_sha256[:16]}"
            )
            for a in _related(application, "ethics_approvals")
        },
        Section.DPIA: {
            "Data categories": ", ".join(dpia.data_categories),
            "Processing": dpia.processing_description,
            **{
                f"Risk: {r.description}": f"likelihood {r.likelihood} × severity {r.severity} = {r.score}; "
                f"mitigation: {r.mitigation}"
                for r in _related(dpia, "risks")
            },
            "Residual risk": dpia.get_residual_risk_display() if dpia.residual_risk else "",
            "DPO consulted": f"{dpia.dpo_name} on {dpia.dpo_consulted_on or ''}",
            "Conclusion": dpia.conclusion,
            "Document": dpia.document_sha256[:16],
        },
        Section.REPRESENTATIONS: {
            "Institution": reps.institution_legal_name,
            "Signatory": f"{reps.signatory_name}, {reps.signatory_role}, {reps.signatory_email}",
            **{
                f"Statement {a.statement}": f"accepted by {a.accepted_by.email}"
                for a in _related(application, "statement_acceptances", "accepted_by")
                if a.voided_at is None
            },
        },
        Section.AI: {
            "Develops or uses AI": application.uses_ai,
            "Why no AI": application.ai_not_used_reason,
            "AI algorithms": application.ai_algorithms,
            "Under the Medical Device Regulation": application.mdr_applicable,
            "MDR notes": application.mdr_notes,
            **{f"AI question {k}": v for k, v in sorted((application.ai_assessment or {}).items())},
        },
    }


@dataclass(frozen=True)
class Change:
    section: str
    field: str
    before: object
    after: object

    @property
    def section_label(self) -> str:
        return Section(self.section).label


def snapshot_changes(before: dict, after: dict) -> list[Change]:
    """Field-by-field differences between two snapshots, in section order."""
    changes = []
    for section in Section.values:
        old, new = before.get(section, {}), after.get(section, {})
        for field in list(old) + [f for f in new if f not in old]:
            if old.get(field) != new.get(field):
                changes.append(Change(section, field, old.get(field, "—"), new.get(field, "—")))
    return changes
