"""Frozen copies of what was submitted, and the field-by-field changes between two of them."""

from dataclasses import dataclass
from types import SimpleNamespace

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
    """`owner.<name>` in its model's order: the prefetched rows when the caller prefetched them
    (`prefetch_related`, or `snapshot_rows_load`), else one query (with `select` joined)."""
    cache = getattr(owner, "_prefetched_objects_cache", {})
    if name in cache:
        return list(cache[name])
    manager = getattr(owner, name)
    return list(manager.select_related(*select) if select else manager.all())


def _rows(model, fields: tuple[str, ...], **where) -> list[SimpleNamespace]:
    """The rows' `pk` and `fields` (attribute names), in the model's order, as plain records: what a
    snapshot reads of them, without building a model instance for each of 400,000 rows."""
    names = ("pk", *fields)
    rows = model.objects.filter(**where).order_by(*model._meta.ordering or ["pk"]).values_list(*names)
    return [SimpleNamespace(**dict(zip(names, values, strict=True))) for values in rows]


def snapshot_rows_load(applications: list) -> None:
    """Load what `application_snapshot` reads for many applications at once (each with its `dpia` and
    `representations` already joined), as `prefetch_related(*snapshot_prefetch())` would, in one
    query per relation and without the prefetch machinery's cost per row: the snapshots of 25,000
    applications are built from 400,000 related rows."""
    from access_requests.models import ApplicationDataset, DpiaRisk, EthicsApproval, StatementAcceptance, TeamMember
    from catalogue.models import Dataset, Term
    from portal.models import User

    ids = [a.pk for a in applications]

    def grouped(rows, key: str) -> dict:
        found: dict = {}
        for row in rows:
            found.setdefault(getattr(row, key), []).append(row)
        return found

    requested = _rows(
        ApplicationDataset, ("application_id", "dataset_id", "access_mode_id", "justification"), application_id__in=ids
    )
    approvals = _rows(
        EthicsApproval,
        (
            "application_id",
            "committee_name",
            "reference",
            "approved_on",
            "expires_on",
            "document_path",
            "document_name",
            "document_sha256",
            "document_size",
        ),
        application_id__in=ids,
    )
    through = EthicsApproval.datasets.through
    pairs = list(
        through.objects.filter(ethicsapproval__application_id__in=ids).values_list(
            "ethicsapproval_id", "applicationdataset_id"
        )
    )
    by_pk = {r.pk: r for r in requested}
    elsewhere = {r for _a, r in pairs if r not in by_pk}  # another application's: never written by the services
    by_pk.update(
        (r.pk, r)
        for r in _rows(
            ApplicationDataset, ("application_id", "dataset_id", "access_mode_id", "justification"), pk__in=elsewhere
        )
    )
    covered: dict[int, list] = {}
    for approval_id, requested_id in pairs:
        covered.setdefault(approval_id, []).append(by_pk[requested_id])
    items = list(by_pk.values())
    datasets = {d.pk: d for d in _rows(Dataset, ("identifier",), pk__in={r.dataset_id for r in items})}
    modes = {t.pk: t for t in _rows(Term, ("label", "code"), pk__in={r.access_mode_id for r in items})}
    for item in items:
        item.dataset, item.access_mode = datasets[item.dataset_id], modes.get(item.access_mode_id)
    conditions: dict[int, list] = {}
    through = Application.purpose_conditions.through
    pairs = list(through.objects.filter(application_id__in=ids).values_list("application_id", "term_id"))
    found = {t.pk: t for t in _rows(Term, ("code",), pk__in={t for _a, t in pairs})}
    for app_id, term_id in pairs:
        conditions.setdefault(app_id, []).append(found[term_id])
    acceptances = _rows(
        StatementAcceptance, ("application_id", "statement", "voided_at", "accepted_by_id"), application_id__in=ids
    )
    people = {u.pk: u for u in _rows(User, ("email",), pk__in={a.accepted_by_id for a in acceptances})}
    for acceptance in acceptances:
        acceptance.accepted_by = people[acceptance.accepted_by_id]
    team = grouped(_rows(TeamMember, ("application_id", "email", "role"), application_id__in=ids), "application_id")
    # model instances: a snapshot shows each risk's `score`
    risks = grouped(
        DpiaRisk.objects.filter(dpia__application_id__in=ids).order_by(*DpiaRisk._meta.ordering or ["pk"]), "dpia_id"
    )
    requested_of, approvals_of, accepted_of = (
        grouped(requested, "application_id"),
        grouped(approvals, "application_id"),
        grouped(acceptances, "application_id"),
    )
    for approval in approvals:
        approval._prefetched_objects_cache = {"datasets": covered.get(approval.pk, [])}
    for application in applications:
        application._prefetched_objects_cache = {
            "purpose_conditions": conditions.get(application.pk, []),
            "requested": requested_of.get(application.pk, []),
            "team": team.get(application.pk, []),
            "ethics_approvals": approvals_of.get(application.pk, []),
            "statement_acceptances": accepted_of.get(application.pk, []),
        }
        application.dpia._prefetched_objects_cache = {"risks": risks.get(application.dpia.pk, [])}


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
