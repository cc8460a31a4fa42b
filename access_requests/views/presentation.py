"""What the application pages show, shaped for the templates: sections with the RDO's comments
beside them, the timeline in words, the thread, the submission check grouped by section."""

from dataclasses import dataclass

from django.db.models import Prefetch
from django.urls import reverse

from access_requests.models import Application, ApplicationDataset, DataCategory, Section
from access_requests.services.applications import AI_QUESTIONS
from catalogue.models import DataUseCondition
from portal.services.audit import audit_events_for

AI_ANSWER_LABELS = {"yes": "Yes", "no": "No", "na": "Not applicable"}

# Human wording of the audit verbs about an application; {names} come from the event's payload.
VERB_WORDS = {
    "application.create": "started the application",
    "application.update": "changed {fields}",
    "application.datasets_set": "set the requested datasets: {datasets}",
    "application.dataset_add": "added the dataset {dataset}",
    "application.team_add": "added {email} to the team",
    "application.team_remove": "removed {email} from the team",
    "application.team_join": "joined the team",
    "application.ethics_add": "added ethics approval {reference}",
    "application.ethics_remove": "removed ethics approval {reference}",
    "application.dpia_update": "updated the data-protection impact assessment",
    "application.dpia_risk_add": "added a risk to the DPIA",
    "application.dpia_risk_remove": "removed a risk from the DPIA",
    "application.representations_update": "updated the legal representations",
    "application.signature_request": "asked the institution's signatory to accept the statements",
    "application.statements_accept": "accepted legal statements as the institution's signatory",
    "application.representations_void": "voided the signatory's acceptances: what they cover changed",
    "application.submit": "submitted the application",
    "application.resubmit": "resubmitted the application after revision",
    "application.return": "returned the application for revision (comments on {sections})",
    "application.forward": "forwarded the application to {committee}",
    "application.decide_approve": "approved the application, closing review round {round}",
    "application.decide_reject": "rejected the application, closing review round {round}",
    "application.request_changes": "returned the application for changes, closing review round {round}",
    "application.withdraw": "withdrew the application",
    "application.delete_draft": "deleted the draft",
    "application.checklist_update": "updated the completeness checklist",
    "application.message": "wrote a message",
    "application.note": "wrote an internal note",
    "document.view": "opened the document {document}",
    "review.conflict_declare": "declared a conflict of interest in round {round}",
    "review.check_record": "recorded the {kind} check in round {round}",
    "review.vote": "voted in round {round}",
    "review.vote_change": "changed their vote in round {round}",
    "application.clock_extend": "extended the decision time by {months} months: {reason}",
}
# Seen by the RDO and the committee only: internal work, and who read which document.
# The committee's own work (conflicts, checks, votes) is theirs and the RDO's: votes stay hidden.
REVIEWER_ONLY_VERBS = {
    "application.note",
    "application.checklist_update",
    "document.view",
    "review.conflict_declare",
    "review.check_record",
    "review.vote",
    "review.vote_change",
}


class _Payload(dict):
    """Payload values for the wording: lists joined, section codes named, missing ones blank."""

    def __missing__(self, key):
        return ""

    def __getitem__(self, key):
        value = super().__getitem__(key) if key in self else self.__missing__(key)
        if key == "sections":
            value = [Section(v).label.lower() if v in Section.values else v for v in value]
        if key == "fields":
            value = [v.replace("_", " ") for v in value]
        return ", ".join(str(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class TimelineEntry:
    when: object
    who: str
    what: str
    verb: str


def timeline_for(application: Application, *, reviewer: bool) -> list[TimelineEntry]:
    entries = []
    for event in audit_events_for(application).order_by("seq"):
        if event.verb in REVIEWER_ONLY_VERBS and not reviewer:
            continue
        words = VERB_WORDS.get(event.verb, event.verb)
        who = event.actor.get_full_name() if event.actor else event.actor_label
        entries.append(TimelineEntry(event.created_at, who, words.format_map(_Payload(event.payload)), event.verb))
    return entries


def thread_for(application: Application, *, reviewer: bool):
    thread = application.messages.select_related("author")
    return thread if reviewer else thread.filter(internal=False)


def comments_by_section(application: Application) -> dict:
    """The RDO's return comments per section: the latest round's first, earlier rounds apart."""
    comments = list(application.return_comments.select_related("author"))
    latest = max((c.submission_number for c in comments), default=None)
    by_section = {s.value: {"latest": [], "earlier": []} for s in Section}
    for comment in comments:
        by_section[comment.section]["latest" if comment.submission_number == latest else "earlier"].append(comment)
    return {
        "by_section": by_section,
        "latest_round": [c for c in comments if c.submission_number == latest],
    }


def application_sections(application: Application, *, comments: dict, editable: bool) -> list[dict]:
    return [
        {
            "key": section.value,
            "label": section.label,
            "template": f"access_requests/sections/{section.value}.html",
            "comments": comments["by_section"][section.value],
            "edit_url": reverse("access_requests:section-edit", args=[application.pk, section.value])
            if editable
            else "",
        }
        for section in Section
    ]


def application_data(application: Application) -> dict:
    """Everything the section templates show, fetched in a few queries."""
    dpia = application.dpia
    answers = application.ai_assessment or {}
    categories = dict(DataCategory.choices)
    return {
        "requested": application.requested.select_related("dataset__holder", "access_mode").prefetch_related(
            Prefetch("dataset__use_conditions", DataUseCondition.objects.select_related("term"))
        ),
        "team": application.team.select_related("user"),
        "approvals": application.ethics_approvals.prefetch_related(
            Prefetch("datasets", ApplicationDataset.objects.select_related("dataset"))
        ),
        "dpia": dpia,
        "dpia_categories": [categories.get(c, c) for c in dpia.data_categories],
        "risks": dpia.risks.all(),
        "reps": application.representations,
        **representations_context(application),
        "ai_answers": [
            (question, AI_ANSWER_LABELS.get(answers.get(key), "Not answered")) for key, question in AI_QUESTIONS
        ],
        "purpose_conditions": application.purpose_conditions.all(),
    }


def representations_context(application: Application) -> dict:
    """The standing acceptances (by the signatory), the voided ones, and whether the link is out."""
    acceptances = list(application.statement_acceptances.select_related("accepted_by"))
    reps = application.representations
    return {
        "acceptances": [a for a in acceptances if a.voided_at is None],
        "voided_acceptances": [a for a in acceptances if a.voided_at is not None],
        "signature_pending": reps.signature_link_open,
    }


def problems_by_section(problems) -> list[dict]:
    """The submission check's problems in section order, each group with its section's edit page."""
    groups = []
    for section in Section:
        found = [p for p in problems if p.section == section.value]
        if found:
            groups.append({"key": section.value, "label": section.label, "problems": found})
    return groups


ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]


def submission_words(application: Application) -> str:
    """ "First submission", "Resubmitted (third submission)": the count in words, for people."""
    count = application.submission_count
    if not count:
        return "Not submitted yet"
    nth = ORDINALS[count - 1] if count <= len(ORDINALS) else f"{count}th"
    return "First submission" if count == 1 else f"Resubmitted ({nth} submission)"
