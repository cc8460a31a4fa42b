"""Writes to the catalogue: data holders and their stewards, datasets and their files.

Every function is keyword-only, takes an `actor`, runs in one transaction with its audit event,
and raises `portal.errors` domain errors: InvalidInput (400, with field errors), TransitionError
(409) and NotPermitted (403). Nothing else changes a dataset's status.
"""

import hashlib
import logging
import mimetypes
import os
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from catalogue.cache import catalogue_changed
from catalogue.dicom_index import dicom_header_fields
from catalogue.models import (
    DataHolder,
    Dataset,
    DatasetFile,
    DatasetRevision,
    DatasetStatus,
    DataUseCondition,
    DicomInstance,
    FileScan,
    FileScanStatus,
    Manufacturer,
    Stewardship,
    Term,
    Vocabulary,
)
from catalogue.permissions import require_steward
from catalogue.search import dataset_refresh_search_vector
from catalogue.signals import dataset_changed
from catalogue.storage import (
    Confinement,
    Refused,
    Unusable,
    file_problem,
    holder_storage_path,
    real_path,
    resolve_folder,
    stored_to_area_relative,
)
from portal.errors import InvalidInput, TransitionError
from portal.models import Role, User
from portal.services.accounts import user_grant_role
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

logger = logging.getLogger(__name__)


# --- data holders -------------------------------------------------------------------------


def _storage_area_name(slug: str) -> str:
    """A folder name for a new holder's storage area: its slug, lower-cased, made unique."""
    base = re.sub(r"[^a-z0-9_-]+", "-", slug.lower()).strip("-_")[:70] or "holder"
    name, suffix = base, 2
    while DataHolder.objects.filter(storage_area=name).exists():
        name, suffix = f"{base}-{suffix}", suffix + 1
    return name


def _storage_area_make(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        logger.exception("the storage area %s could not be created; the operator must create it", path)


def data_holder_create(
    *, actor, name: str, slug: str, country: str, contact_email: str, rdo_email: str, city: str = "", website: str = ""
) -> DataHolder:
    """Register an institution that holds data, with its own storage area (never changed later); audited.

    The area's folder under DATASET_STORAGE_ROOT is created once the holder is committed.
    """
    with transaction.atomic():
        holder = DataHolder(
            name=name,
            slug=slug,
            country=country.upper(),
            city=city,
            website=website,
            contact_email=contact_email,
            rdo_email=rdo_email,
            storage_area=_storage_area_name(slug),
        )
        holder.full_clean()
        holder.save()
        audit_record(
            actor=actor,
            verb="data_holder.create",
            target=holder,
            payload={"name": name, "country": holder.country, "storage_area": holder.storage_area},
        )
        area = holder_storage_path(holder)
        transaction.on_commit(lambda: _storage_area_make(area))
        catalogue_changed()
    return holder


def data_holder_processing_set(
    *, actor, holder: DataHolder, environment: str | None = None, push_url: str | None = None, push_secret=None
) -> DataHolder:
    """Set where a holder's processing environment lives: the words grantees read (`environment`), the
    address that receives entitlement events (`push_url`, empty: events wait) and the HMAC secret they
    are signed with (`push_secret`). What is None stays as it is; audited (the secret never is)."""
    with transaction.atomic():
        holder = DataHolder.objects.select_for_update().get(pk=holder.pk)
        changed = {}
        if environment is not None:
            holder.processing_environment = environment.strip()
            changed["environment"] = holder.processing_environment
        if push_url is not None:
            holder.processing_push_url = push_url.strip()
            changed["push_url"] = holder.processing_push_url
        if push_secret is not None:
            holder.processing_push_secret = push_secret
            changed["secret_changed"] = True
        if holder.processing_push_url and len(holder.processing_push_secret) < 32:
            raise InvalidInput(
                "A processing environment that receives events needs a secret of at least 32 characters.",
                fields={"push_secret": ["At least 32 characters."]},
            )
        holder.full_clean()
        holder.save(update_fields=["processing_environment", "processing_push_url", "processing_push_secret"])
        audit_record(actor=actor, verb="data_holder.processing_set", target=holder, payload=changed)
    return holder


def data_holder_add_steward(*, actor, holder: DataHolder, user: User) -> Stewardship:
    """Make `user` a steward of `holder`: the steward role plus the object permission on the holder."""
    with transaction.atomic():
        stewardship, created = Stewardship.objects.get_or_create(holder=holder, user=user)
        if not created:
            return stewardship
        user_grant_role(actor=actor, user=user, role=Role.STEWARD)
        assign_perm("catalogue.change_dataholder", user, holder)
        audit_record(actor=actor, verb="data_holder.steward_add", target=holder, payload={"steward": user.email})
    return stewardship


# --- dataset input ------------------------------------------------------------------------

SCALAR_FIELDS = (
    "identifier",
    "title",
    "description",
    "version",
    "dataset_type",
    "access_rights",
    "tier",
    "age_min",
    "age_max",
    "subjects_count",
    "studies_count",
    "series_count",
    "images_count",
    "size_bytes",
    "acquisition_start",
    "acquisition_end",
    "collection_method",
    "provenance",
    "anonymisation_profile",
    "anonymisation_verified_on",
    "source_uid_root",
    "pseudonym_pattern",
    "counts_note",
    "licence",
    "landing_page",
)
TERM_FIELDS = {
    "modalities": Vocabulary.MODALITY,
    "conditions": Vocabulary.CONDITION,
    "body_parts": Vocabulary.BODY_PART,
    "birth_sexes": Vocabulary.BIRTH_SEX,
    "access_modes": Vocabulary.ACCESS_MODE,
}
LIST_FIELDS = ("data_use", "manufacturers", "keywords")
DATA_FIELDS = (*SCALAR_FIELDS, *TERM_FIELDS, *LIST_FIELDS)

IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_KEYWORDS = 50
MAX_KEYWORD_LENGTH = 100

# ISO 3166-1 alpha-2, the officially assigned codes
_ISO_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
    BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM
    FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN
    MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT
    PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL
    TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"""
ISO_COUNTRIES = frozenset(_ISO_COUNTRY_CODES.split())


class _Errors(dict):
    """Field errors collected while reading input; raised together so the caller sees them all."""

    def add(self, name: str, message: str) -> None:
        self.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if self:
            summary = "; ".join(f"{name}: {message}" for name, messages in self.items() for message in messages)
            raise InvalidInput(summary, fields=dict(self))


def _string_list(value, name: str, errors: _Errors) -> list[str] | None:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        errors.add(name, "must be a list of strings")
        return None
    return [item.strip() for item in value if item.strip()]


def _param_countries(value) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise ValueError("needs countries: a non-empty list of ISO 3166-1 alpha-2 codes")
    codes = [c.strip().upper() for c in value]
    unknown = [c for c in codes if c not in ISO_COUNTRIES]
    if unknown:
        raise ValueError(f"unknown country code {unknown[0]!r} (ISO 3166-1 alpha-2 expected)")
    return sorted(set(codes))


def _param_conditions(value) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise ValueError("needs conditions: a non-empty list of ICD-10 codes")
    codes = [c.strip().upper() for c in value]
    known = set(Term.objects.filter(vocabulary=Vocabulary.CONDITION, code__in=codes).values_list("code", flat=True))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(f"unknown condition code {unknown[0]!r}")
    return sorted(set(codes))


def _param_months(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1200:
        raise ValueError("needs months: a whole number of months between 1 and 1200")
    return value


def _param_institutions(value) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(i, str) and i.strip() for i in value):
        raise ValueError("needs institutions: a non-empty list of institution names")
    return [i.strip() for i in value]


def _param_note(value) -> str:
    if not isinstance(value, str) or len(value) > 1000:
        raise ValueError("note must be text of at most 1000 characters")
    return value.strip()


# The parameters each data-use condition requires (see DataUseCondition); every condition may add a note.
DATA_USE_PARAMETERS = {
    "GEOGRAPHICAL_RESTRICTION": {"countries": _param_countries},
    "DISEASE_SPECIFIC_RESEARCH": {"conditions": _param_conditions},
    "TIME_LIMIT_ON_USE": {"months": _param_months},
    "INSTITUTION_SPECIFIC_RESTRICTION": {"institutions": _param_institutions},
}


def _data_use_parameters(code: str, parameters) -> dict:
    """The cleaned parameters of one condition; ValueError naming what is wrong."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValueError("parameters must be an object")
    required = DATA_USE_PARAMETERS.get(code, {})
    unknown = sorted(set(parameters) - set(required) - {"note"})
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}")
    cleaned = {}
    for name, check in required.items():
        cleaned[name] = check(parameters.get(name))  # a missing value fails the check with what is needed
    if parameters.get("note"):
        cleaned["note"] = _param_note(parameters["note"])
    return cleaned


@dataclass
class DatasetInput:
    """Input for a dataset after checking: only the keys that were given."""

    scalars: dict = field(default_factory=dict)
    terms: dict[str, list[Term]] = field(default_factory=dict)
    data_use: list[tuple[Term, dict]] | None = None
    manufacturers: list[str] | None = None
    keywords: list[str] | None = None


def _read_terms(name: str, value, errors: _Errors) -> list[Term] | None:
    codes = _string_list(value, name, errors)
    if codes is None:
        return None
    found = {t.code: t for t in Term.objects.filter(vocabulary=TERM_FIELDS[name], code__in=codes)}
    for code in codes:
        if code not in found:
            errors.add(name, f"unknown code {code!r}")
    return [found[code] for code in dict.fromkeys(codes) if code in found]


def _read_data_use(value, errors: _Errors) -> list[tuple[Term, dict]] | None:
    if not isinstance(value, list | tuple):
        errors.add("data_use", "must be a list of {code, parameters}")
        return None
    codes = [item.get("code") if isinstance(item, dict) else None for item in value]
    terms = {t.code: t for t in Term.objects.filter(vocabulary=Vocabulary.DATA_USE, code__in=[c for c in codes if c])}
    result, seen = [], set()
    for item, code in zip(value, codes, strict=True):
        if not isinstance(code, str):
            errors.add("data_use", "each entry needs a code")
        elif code not in terms:
            errors.add("data_use", f"unknown code {code!r}")
        elif code in seen:
            errors.add("data_use", f"{code} is given twice")
        else:
            seen.add(code)
            try:
                result.append((terms[code], _data_use_parameters(code, item.get("parameters"))))
            except ValueError as exc:
                errors.add("data_use", f"{code} {exc}")
    return result


def _read_manufacturers(value, errors: _Errors) -> list[str] | None:
    names = _string_list(value, "manufacturers", errors)
    if names is None:
        return None
    for name in names:
        if len(name) > Manufacturer._meta.get_field("name").max_length:
            errors.add("manufacturers", f"{name[:40]!r}… is too long")
    return list(dict.fromkeys(names))


def _read_keywords(value, errors: _Errors) -> list[str] | None:
    words = _string_list(value, "keywords", errors)
    if words is None:
        return None
    unique: dict[str, str] = {}
    for word in words:
        if len(word) > MAX_KEYWORD_LENGTH:
            errors.add("keywords", f"{word[:40]!r}… is longer than {MAX_KEYWORD_LENGTH} characters")
        unique.setdefault(word.casefold(), word)
    if len(unique) > MAX_KEYWORDS:
        errors.add("keywords", f"at most {MAX_KEYWORDS} keywords")
    return list(unique.values())


def _read_scalar(name: str, value):
    model_field = Dataset._meta.get_field(name)
    if isinstance(value, str):
        value = value.strip()
    if value is None and not model_field.null:
        return ""  # a missing text; full_clean reports it where the field is required
    if value == "" and model_field.null:
        return None
    return value


def dataset_read_input(data: dict) -> DatasetInput:
    """Check input keys and codes; InvalidInput names every bad field and value at once."""
    errors = _Errors()
    if not isinstance(data, dict):
        raise InvalidInput("The dataset must be given as an object.", fields={NON_FIELD_ERRORS: ["not an object"]})
    for key in data:
        if key == "status":
            errors.add(key, "changes only by publishing or withdrawing the dataset")
        elif key not in DATA_FIELDS:
            errors.add(key, "unknown field")
    result = DatasetInput()
    result.scalars = {name: _read_scalar(name, data[name]) for name in SCALAR_FIELDS if name in data}
    for name in TERM_FIELDS:
        if name in data:
            result.terms[name] = _read_terms(name, data[name], errors)
    if "data_use" in data:
        result.data_use = _read_data_use(data["data_use"], errors)
    if "manufacturers" in data:
        result.manufacturers = _read_manufacturers(data["manufacturers"], errors)
    if "keywords" in data:
        result.keywords = _read_keywords(data["keywords"], errors)
    errors.raise_if_any()
    return result


def _check_rules(dataset: Dataset) -> None:
    """Model rules with messages that name the field (the database constraints back them up)."""
    errors = _Errors()
    if dataset.identifier and not IDENTIFIER_RE.match(str(dataset.identifier)):
        errors.add("identifier", "use letters, digits, dots, dashes and underscores, starting with a letter or digit")
    try:
        dataset.full_clean(exclude=["holder"], validate_constraints=False)
    except ValidationError as exc:
        _add_validation_errors(errors, exc)
    if not errors:
        _check_ranges(dataset, errors)
    if not errors:
        try:  # whatever other constraint the model declares
            dataset.validate_constraints()
        except ValidationError as exc:
            _add_validation_errors(errors, exc)
    errors.raise_if_any()


def _add_validation_errors(errors: _Errors, exc: ValidationError) -> None:
    for name, messages in exc.message_dict.items():
        for message in messages:
            errors.add(name, message)


def _check_ranges(dataset: Dataset, errors: _Errors) -> None:
    if dataset.age_min is not None and dataset.age_max is not None and dataset.age_min > dataset.age_max:
        errors.add("age_max", "must not be below the minimum age")
    start, end = dataset.acquisition_start, dataset.acquisition_end
    if start and end and start > end:
        errors.add("acquisition_end", "must not be before the start of the acquisition period")
    if dataset.studies_count and dataset.subjects_count > dataset.studies_count:
        errors.add("subjects_count", "cannot exceed the number of imaging studies")


def _manufacturer(name: str) -> Manufacturer:
    return Manufacturer.objects.filter(name__iexact=name).first() or Manufacturer.objects.create(name=name)


def _write_relations(dataset: Dataset, given: DatasetInput) -> None:
    for name, terms in given.terms.items():
        getattr(dataset, name).set(terms)
    if given.manufacturers is not None:
        dataset.manufacturers.set([_manufacturer(name) for name in given.manufacturers])
    if given.data_use is not None:
        keep = [term.pk for term, _ in given.data_use]
        dataset.use_conditions.exclude(term_id__in=keep).delete()
        for term, parameters in given.data_use:
            DataUseCondition.objects.update_or_create(dataset=dataset, term=term, defaults={"parameters": parameters})


def _save(dataset: Dataset) -> None:
    try:
        with transaction.atomic():
            dataset.save()
    except IntegrityError:  # a concurrent create took the identifier between the check and the insert
        raise InvalidInput(
            "identifier: already in use", fields={"identifier": ["a dataset with this identifier already exists"]}
        )


def dataset_snapshot(dataset: Dataset) -> dict:
    """The dataset as input data (the shape `dataset_create` takes); also what pages pre-fill."""
    snapshot = {name: getattr(dataset, name) for name in SCALAR_FIELDS}
    for name in TERM_FIELDS:
        snapshot[name] = sorted(getattr(dataset, name).values_list("code", flat=True))
    snapshot["data_use"] = [
        {"code": c.term.code, "parameters": c.parameters}
        for c in dataset.use_conditions.select_related("term").order_by("term__code")
    ]
    snapshot["manufacturers"] = sorted(dataset.manufacturers.values_list("name", flat=True))
    snapshot["keywords"] = list(dataset.keywords or [])
    return snapshot


def _comparable(name: str, value):
    if name in TERM_FIELDS or name == "manufacturers":
        return sorted(value, key=str.casefold) if name == "manufacturers" else sorted(value)
    if name == "data_use":
        return sorted((item["code"], item["parameters"]) for item in value)
    return value


def _given_as_data(given: DatasetInput) -> dict:
    data = dict(given.scalars)
    data.update({name: [t.code for t in terms] for name, terms in given.terms.items()})
    if given.data_use is not None:
        data["data_use"] = [{"code": t.code, "parameters": p} for t, p in given.data_use]
    if given.manufacturers is not None:
        data["manufacturers"] = given.manufacturers
    if given.keywords is not None:
        data["keywords"] = given.keywords
    return data


# --- dataset create and update ------------------------------------------------------------


def dataset_create(*, actor, holder: DataHolder, data: dict) -> Dataset:
    """Create a draft dataset of `holder` from `data` (see DATA_FIELDS); only a steward of the holder may.

    Codes must exist in their vocabularies; model rules apply through full_clean; all or nothing.
    """
    require_steward(actor, holder)
    given = dataset_read_input(data)
    with transaction.atomic():
        dataset = Dataset(holder=holder, status=DatasetStatus.DRAFT, **given.scalars)
        if given.keywords is not None:
            dataset.keywords = given.keywords
        _check_rules(dataset)
        _save(dataset)
        _write_relations(dataset, given)
        dataset_refresh_search_vector(dataset)
        audit_record(
            actor=actor,
            verb="dataset.create",
            target=dataset,
            payload={"identifier": dataset.identifier, "holder": holder.slug, "fields": sorted(data)},
        )
    return dataset


def dataset_update(*, actor, dataset: Dataset, data: dict) -> Dataset:
    """Change the keys present in `data`; the identifier is fixed once the dataset was ever published.

    Returns the dataset as saved. Nothing changed: no write and no audit event.
    """
    require_steward(actor, dataset.holder)
    given = dataset_read_input(data)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().select_related("holder").get(pk=dataset.pk)
        before = dataset_snapshot(dataset)
        for name, value in given.scalars.items():
            setattr(dataset, name, value)
        if given.keywords is not None:
            dataset.keywords = given.keywords
        _check_rules(dataset)  # also turns input ("2024-01-31", "3") into the fields' types
        requested = _given_as_data(given) | {name: getattr(dataset, name) for name in given.scalars}
        changed = [name for name in requested if _comparable(name, requested[name]) != _comparable(name, before[name])]
        if not changed:
            return dataset
        ever_published = dataset.status != DatasetStatus.DRAFT or dataset.published_at is not None
        if "identifier" in changed and ever_published:
            message = "cannot change once the dataset has been published"
            raise InvalidInput(f"identifier: {message}", fields={"identifier": [message]})
        _save(dataset)
        _write_relations(dataset, given)
        dataset_refresh_search_vector(dataset)
        payload = {"changed": sorted(changed)}
        if "identifier" in changed:
            payload["identifier"] = {"from": before["identifier"], "to": dataset.identifier}
        audit_record(actor=actor, verb="dataset.update", target=dataset, payload=payload)
        dataset_changed.send(
            sender=Dataset, dataset=dataset, actor=actor, what=f"its description changed ({', '.join(sorted(changed))})"
        )
        catalogue_changed()
    return dataset


# --- dataset status -----------------------------------------------------------------------

# action: (statuses it may start from, status it leads to)
DATASET_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "publish": (frozenset({DatasetStatus.DRAFT, DatasetStatus.WITHDRAWN}), DatasetStatus.PUBLISHED),
    "withdraw": (frozenset({DatasetStatus.PUBLISHED}), DatasetStatus.WITHDRAWN),
}


def _begin_transition(dataset: Dataset, action: str) -> Dataset | None:
    """Lock the dataset; None if it already is where `action` leads, TransitionError if it may not go there."""
    sources, target = DATASET_TRANSITIONS[action]
    locked = Dataset.objects.select_for_update().select_related("holder").get(pk=dataset.pk)
    if locked.status == target:
        return None
    if locked.status not in sources:
        raise TransitionError(f"A {locked.get_status_display().lower()} dataset cannot be {target}.")
    return locked


def dataset_publish_problems(dataset: Dataset) -> dict[str, list[str]]:
    """What the EUCAIM profile makes mandatory and the dataset still lacks, by field."""
    problems: dict[str, list[str]] = {}
    texts = {"title": "a title", "description": "a description", "version": "a version"}
    texts |= {"provenance": "a provenance statement", "collection_method": "a collection method"}
    for name, what in texts.items():
        if not str(getattr(dataset, name) or "").strip():
            problems[name] = [f"needs {what}"]
    lists = {
        "conditions": "a cancer condition",
        "modalities": "an imaging modality",
        "body_parts": "a body part",
        "birth_sexes": "the subjects' birth sex",
        "manufacturers": "an equipment manufacturer",
    }
    for name, what in lists.items():
        if not getattr(dataset, name).exists():
            problems[name] = [f"needs at least {what}"]
    if not dataset.use_conditions.exists():
        problems["data_use"] = ["needs at least one data-use condition"]
    if not dataset.keywords:
        problems["keywords"] = ["needs at least one keyword"]
    return problems


def dataset_publish(*, actor, dataset: Dataset) -> Dataset:
    """Publish a draft or withdrawn dataset once every mandatory field of the EUCAIM profile is there.

    Missing fields raise TransitionError (409) naming each field. Files are recommended, not
    required: the catalogue also describes collections that stay inside the data holder and are
    only processed there (in-situ or federated tiers), and a steward may publish the description
    before the files are staged; no bytes leave without a grant, which checks the files itself.
    """
    require_steward(actor, dataset.holder)
    with transaction.atomic():
        locked = _begin_transition(dataset, "publish")
        if locked is None:
            return Dataset.objects.get(pk=dataset.pk)
        problems = dataset_publish_problems(locked)
        if problems:
            raise TransitionError(
                "The dataset cannot be published yet: " + "; ".join(f"{k}: {v[0]}" for k, v in problems.items()),
                code="incomplete",
                fields=problems,
            )
        previous = locked.status
        locked.status = DatasetStatus.PUBLISHED
        locked.published_at = timezone.now()
        locked.save(update_fields=["status", "published_at", "updated_at"])
        audit_record(
            actor=actor,
            verb="dataset.publish",
            target=locked,
            payload={"from": previous, "files": locked.files.count()},
        )
        catalogue_changed()
    return locked


def dataset_withdraw(*, actor, dataset: Dataset, reason: str) -> Dataset:
    """Take a published dataset out of the public catalogue, saying why (the reason is audited)."""
    require_steward(actor, dataset.holder)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason: say why the dataset is withdrawn", fields={"reason": ["Say why."]})
    with transaction.atomic():
        locked = _begin_transition(dataset, "withdraw")
        if locked is None:
            return Dataset.objects.get(pk=dataset.pk)
        locked.status = DatasetStatus.WITHDRAWN
        locked.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, verb="dataset.withdraw", target=locked, payload={"reason": reason[:2000]})
        catalogue_changed()
    return locked


# --- files --------------------------------------------------------------------------------

HASH_CHUNK_BYTES = 1024 * 1024
PROGRESS_EVERY_SECONDS = 0.5
SCAN_STALE_AFTER = timedelta(hours=6)
ACTIVE_SCAN = (FileScanStatus.QUEUED, FileScanStatus.RUNNING)
DICOM = "application/dicom"
INDEX_BATCH = 2000


def _refuse_folder(message: str):
    raise InvalidInput(f"folder: {message}", fields={"folder": [message]})


def _files_refused(*, actor, dataset: Dataset, folder: str, refusal: Refused) -> None:
    """Record a refused folder in its own transaction, so the record outlives the refusal it explains.

    Views and the API call `dataset_register_files` outside any transaction; the event commits
    here, before the error is raised, and nothing else is written.
    """
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="dataset.files_refused",
            target=dataset,
            # a NUL cannot be stored in a JSON column on PostgreSQL: keep the rest of what was given
            payload={
                "folder": folder.replace("\x00", "\ufffd")[:1000],
                "reason": refusal.reason,
                "message": refusal.message,
            },
        )


def dataset_register_files(*, actor, dataset: Dataset, folder: str) -> FileScan:
    """Ask for the files under `folder` to be registered for `dataset`; a task walks and hashes them.

    `folder` is relative to the storage area of the dataset's data holder, and only that area is
    reachable: a path that leaves it (absolute, `..`, a symbolic link out, another holder's area,
    the applicants' documents) is refused with a field error and recorded as
    `dataset.files_refused`, and nothing else changes. A scan of the same folder that is still
    queued or running is returned instead of a second one.
    """
    require_steward(actor, dataset.holder)
    confinement = Confinement.of(dataset.holder)
    try:
        _, relative = resolve_folder(confinement, folder)
    except Refused as refusal:
        _files_refused(actor=actor, dataset=dataset, folder=folder or "", refusal=refusal)
        _refuse_folder(refusal.message)
    except Unusable as problem:
        _refuse_folder(problem.message)
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        active = dataset.file_scans.filter(
            folder=relative, status__in=ACTIVE_SCAN, created_at__gte=timezone.now() - SCAN_STALE_AFTER
        ).first()
        if active:
            return active
        scan = FileScan.objects.create(dataset=dataset, folder=relative, requested_by=actor)
        audit_record(
            actor=actor, verb="dataset.files_register", target=dataset, payload={"folder": relative, "scan": scan.pk}
        )
        transaction.on_commit(lambda: file_scan_dispatch(scan_id=scan.pk))
    return scan


def file_scan_dispatch(*, scan_id: int) -> bool:
    """Queue the scan task; if the broker cannot take it, the scan is marked failed (the steward may retry)."""
    from catalogue.tasks import file_scan_run as task

    try:
        task.delay(scan_id)
    except Exception as exc:  # kombu raises several types when the broker is unreachable
        logger.exception("file scan %s could not be queued", scan_id)
        file_scan_fail(scan_id=scan_id, error=f"The scan could not be queued ({type(exc).__name__}); try again.")
        return False
    return True


@dataclass(frozen=True)
class _Found:
    relative: str
    real: Path


def _walk(top: Path, confinement: Confinement) -> tuple[list[_Found], list[dict]]:
    """Every regular file under `top`, sorted; links leaving the holder's area and linked folders are left out."""
    found, skipped = [], []
    max_path = DatasetFile._meta.get_field("path").max_length
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                reason = "a link to a folder: linked folders are not followed"
                skipped.append({"path": confinement.stored(here / name), "reason": reason})
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            relative = confinement.stored(path)
            real = real_path(path)
            problem = file_problem(confinement, real)
            if problem:
                skipped.append({"path": relative, "reason": problem})
            elif not real.is_file():
                skipped.append({"path": relative, "reason": "not a regular file"})
            elif len(relative) > max_path:
                skipped.append({"path": relative[:200] + "…", "reason": f"path longer than {max_path} characters"})
            else:
                found.append(_Found(relative, real))
    return found, skipped


def _media_type(name: str, head: bytes) -> str:
    if head[128:132] == b"DICM" or name.lower().endswith(".dcm"):
        return "application/dicom"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def file_sha256(real: Path) -> tuple[int, str, str]:
    """Size, SHA-256 and media type of one file, read in chunks (never whole into memory).

    The path must already be resolved: O_NOFOLLOW refuses a link swapped in since.
    """
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    digest, size, head = hashlib.sha256(), 0, b""
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            if len(head) < 132:
                head += chunk[: 132 - len(head)]
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest(), _media_type(real.name, head)


def _file_scan_start(scan_id: int) -> FileScan | None:
    """Mark the scan running (committed, so pages see it); None if it already finished."""
    with transaction.atomic():
        scan = FileScan.objects.select_for_update().select_related("dataset", "requested_by").get(pk=scan_id)
        if scan.status in (FileScanStatus.DONE, FileScanStatus.FAILED):
            return None
        scan.status = FileScanStatus.RUNNING
        scan.files_total = scan.files_done = scan.bytes_done = 0
        scan.error = ""
        scan.save(update_fields=["status", "files_total", "files_done", "bytes_done", "error"])
    return scan


def _hash_all(scan: FileScan, found: list[_Found], skipped: list[dict]) -> list[dict]:
    FileScan.objects.filter(pk=scan.pk).update(files_total=len(found))
    # The steward's declarations the check needs: UIDs under the hospital's root fail, pseudonyms pass.
    declared = {
        "source_uid_root": scan.dataset.source_uid_root or None,
        "pseudonym_pattern": scan.dataset.pseudonym_pattern or None,
    }
    records, done_bytes, last_flush = [], 0, time.monotonic()
    for index, item in enumerate(found, start=1):
        try:
            size, sha256, media_type = file_sha256(item.real)
        except OSError as exc:  # vanished or replaced by a link while we walked
            skipped.append({"path": item.relative, "reason": f"could not be read ({exc.strerror or exc})"})
            continue
        record = {"path": item.relative, "size_bytes": size, "sha256": sha256, "media_type": media_type}
        if media_type == DICOM:
            # The header only, once, right after the hash; the scan keeps the extracted fields.
            try:
                record["dicom"] = dicom_header_fields(item.real, **declared)
            except OSError as exc:
                skipped.append({"path": item.relative, "reason": f"could not be read ({exc.strerror or exc})"})
                continue
        records.append(record)
        done_bytes += size
        if time.monotonic() - last_flush >= PROGRESS_EVERY_SECONDS:
            FileScan.objects.filter(pk=scan.pk).update(files_done=index, bytes_done=done_bytes)
            last_flush = time.monotonic()
    return records


def _removed_by_steward(dataset: Dataset, folder: str) -> dict[str, set[str]]:
    """Per path under `folder`, the contents (SHA-256) a steward removed from the dataset."""
    rows = DatasetFile.all_registrations.filter(
        dataset=dataset, path__startswith=folder + "/", removed_at__isnull=False, removed_by__isnull=False
    ).values_list("path", "sha256")
    found: dict[str, set[str]] = {}
    for path, sha256 in rows:
        found.setdefault(path, set()).add(sha256)
    return found


def _replace_files(
    dataset: Dataset, folder: str, records: list[dict], skipped: list[dict], *, actor
) -> dict[str, int | str]:
    """Make the dataset's registrations under `folder` exactly `records`; the same input gives the same rows.

    Nothing is deleted: a registration whose file is gone, or whose content changed, is marked
    removed (a changed file is then registered anew). A file a steward removed is not registered
    again while its content is the same; it is listed in `skipped`. When the dataset has been
    published, any change makes a new version (see `_revision_create`).
    """
    existing = {f.path: f for f in dataset.files.filter(path__startswith=folder + "/")}
    removed_before = _removed_by_steward(dataset, folder)
    wanted = {}
    for record in records:
        if record["sha256"] in removed_before.get(record["path"], ()) and record["path"] not in existing:
            skipped.append({"path": record["path"], "reason": "removed from the dataset by a steward"})
        else:
            wanted[record["path"]] = record
    gone = [row for path, row in existing.items() if path not in wanted]
    changed = [
        row
        for path, row in existing.items()
        if path in wanted and (row.size_bytes, row.sha256) != (wanted[path]["size_bytes"], wanted[path]["sha256"])
    ]
    retyped = [
        row
        for path, row in existing.items()
        if path in wanted and row not in changed and row.media_type != wanted[path]["media_type"]
    ]
    new = [record for path, record in wanted.items() if path not in existing or existing[path] in changed]
    revision = None
    # The first files a published dataset receives are its data arriving, not a change to it.
    had_files = bool(existing) or dataset.files.exists()
    if (gone or new) and had_files and _ever_published(dataset):
        what = f"Files registered again from the folder {folder}"
        revision = _revision_create(dataset, actor=actor, reason=what, added=len(new), removed=len(gone) + len(changed))
    now = timezone.now()
    for rows, why in ((gone, "no longer in the storage area"), (changed, "replaced by a file with other content")):
        DatasetFile.all_registrations.filter(pk__in=[row.pk for row in rows]).update(
            removed_at=now, removal_reason=f"{why} when {folder} was scanned", removed_in=revision
        )
    for row in retyped:
        row.media_type = wanted[row.path]["media_type"]
    DatasetFile.objects.bulk_update(retyped, ["media_type"])
    created = DatasetFile.objects.bulk_create(
        [DatasetFile(dataset=dataset, added_in=revision, **_file_fields(record)) for record in new]
    )
    _index_dicom(dataset, folder, existing, wanted, created, new, retyped)
    counts: dict[str, int | str] = {"added": len(new) - len(changed), "updated": len(changed), "removed": len(gone)}
    if revision is not None:
        counts["version"] = revision.version
    return counts


def _file_fields(record: dict) -> dict:
    return {name: value for name, value in record.items() if name != "dicom"}


def _index_dicom(
    dataset: Dataset,
    folder: str,
    existing: dict[str, DatasetFile],
    wanted: dict[str, dict],
    created: list[DatasetFile],
    new: list[dict],
    retyped: list[DatasetFile],
) -> None:
    """Write the DICOM index rows of a scan, with its file rows (same transaction).

    Each new file row gets the index row read from its header. A registration kept as it was
    keeps its index row; one that has none (registered before the index, or newly taken for
    DICOM) gets one now, so a rescan only fills gaps and never writes a second row.
    """
    rows = [
        DicomInstance(file=file, **record["dicom"])
        for file, record in zip(created, new, strict=True)
        if "dicom" in record
    ]
    kept = {
        row.pk: row
        for path, row in existing.items()
        if path in wanted and (row.size_bytes, row.sha256) == (wanted[path]["size_bytes"], wanted[path]["sha256"])
    }
    indexed = set(
        DicomInstance.objects.filter(file__dataset=dataset, file__path__startswith=folder + "/").values_list(
            "file_id", flat=True
        )
    )
    rows += [
        DicomInstance(file=row, **wanted[row.path]["dicom"])
        for pk, row in kept.items()
        if pk not in indexed and "dicom" in wanted[row.path]
    ]
    DicomInstance.objects.bulk_create(rows, batch_size=INDEX_BATCH)
    no_longer_dicom = [row.pk for row in retyped if row.media_type != DICOM]
    if no_longer_dicom:
        DicomInstance.objects.filter(file_id__in=no_longer_dicom).delete()


def _file_scan_finish(scan: FileScan, folder: str, records: list[dict], skipped: list[dict]) -> FileScan:
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=scan.dataset_id)
        counts = _replace_files(dataset, folder, records, skipped, actor=scan.requested_by)
        scan = FileScan.objects.select_for_update().get(pk=scan.pk)
        scan.status = FileScanStatus.DONE
        scan.files_total = scan.files_done = len(records)
        scan.bytes_done = sum(r["size_bytes"] for r in records)
        scan.skipped = skipped
        scan.finished_at = timezone.now()
        scan.save(update_fields=["status", "files_total", "files_done", "bytes_done", "skipped", "finished_at"])
        audit_record(
            actor=scan.requested_by,
            verb="dataset.files_scan",
            target=dataset,
            payload={
                "scan": scan.pk,
                "folder": folder,
                "files": scan.files_done,
                "bytes": scan.bytes_done,
                **counts,
                "skipped": [s["path"] for s in skipped][:50],
            },
        )
        if counts["added"] or counts["updated"] or counts["removed"]:
            dataset_changed.send(
                sender=Dataset,
                dataset=dataset,
                actor=scan.requested_by,
                what=f"its files were registered from {folder}",
            )
        catalogue_changed()
    return scan


def file_scan_run(*, scan_id: int) -> FileScan:
    """Walk the scan's folder, hash every file and make the dataset's file rows match; audited.

    Safe to run twice: a finished scan returns quietly; scanning the same folder again gives the
    same rows. Progress (files_done, bytes_done) is committed as it goes so a page can show it.
    """
    scan = _file_scan_start(scan_id)
    if scan is None:
        return FileScan.objects.get(pk=scan_id)
    try:
        confinement = Confinement.of(scan.dataset.holder)
        inner = stored_to_area_relative(confinement, scan.folder)
        if inner is None:
            raise Refused("outside_area", "the folder is not in the data holder's storage area")
        top, folder = resolve_folder(confinement, inner)
        found, skipped = _walk(top, confinement)
        records = _hash_all(scan, found, skipped)
    except (Refused, Unusable) as exc:
        return file_scan_fail(scan_id=scan_id, error=f"The folder {scan.folder} was refused: {exc.message}.")
    except OSError as exc:
        return file_scan_fail(scan_id=scan_id, error=f"The folder could not be read: {exc.strerror or exc}")
    return _file_scan_finish(scan, folder, records, skipped)


def file_scan_fail(*, scan_id: int, error: str) -> FileScan:
    """Mark an unfinished scan failed with a reason the steward can act on; audited."""
    with transaction.atomic():
        scan = FileScan.objects.select_for_update().select_related("dataset", "requested_by").get(pk=scan_id)
        if scan.status in (FileScanStatus.DONE, FileScanStatus.FAILED):
            return scan
        scan.status = FileScanStatus.FAILED
        scan.error = error[:2000]
        scan.finished_at = timezone.now()
        scan.save(update_fields=["status", "error", "finished_at"])
        audit_record(
            actor=scan.requested_by,
            verb="dataset.files_scan_failed",
            target=scan.dataset,
            payload={"scan": scan.pk, "folder": scan.folder, "error": scan.error},
        )
    return scan


# --- removing a file, and the versions of a published dataset -----------------------------

# Applications whose applicants hear of a change to a dataset they request: those being prepared,
# under review or with access. Ended ones (rejected, withdrawn, closed, revoked) are not written to.
ANNOUNCED_APPLICATION_STATES = ("draft", "submitted", "returned", "in_review", "approved", "active")
_VERSION_RE = re.compile(r"^(?P<prefix>\D*)(?P<major>\d+)(?P<rest>(?:\.\d+)*)")


def _ever_published(dataset: Dataset) -> bool:
    return dataset.status != DatasetStatus.DRAFT or dataset.published_at is not None


def next_file_version(version: str) -> str:
    """The version a change to the files makes: the next major version ("1.2.0" -> "2.0.0", "v3" -> "v4").

    As in Dataverse, adding, removing or replacing a file of a published dataset makes a major
    version: results computed on the earlier files cannot be reproduced on the new ones.
    """
    match = _VERSION_RE.match(version or "")
    if match is None:
        return "2.0.0"
    rest = re.sub(r"\d+", "0", match["rest"])
    bumped = f"{match['prefix']}{int(match['major']) + 1}{rest}"
    return bumped[: Dataset._meta.get_field("version").max_length]


def _revision_create(dataset: Dataset, *, actor, reason: str, added: int = 0, removed: int = 0) -> DatasetRevision:
    """A new version of the (locked) dataset, recorded with why its files changed."""
    previous = dataset.version
    dataset.version = next_file_version(previous)
    dataset.save(update_fields=["version", "updated_at"])
    return DatasetRevision.objects.create(
        dataset=dataset,
        version=dataset.version,
        previous_version=previous,
        made_by=actor if isinstance(actor, User) else None,
        reason=reason,
        files_added=added,
        files_removed=removed,
    )


def dataset_applicants(dataset: Dataset) -> list[User]:
    """The applicants of the applications that request `dataset` and are prepared, under review or active."""
    from access_requests.models import Application

    requesting = Application.objects.filter(status__in=ANNOUNCED_APPLICATION_STATES, requested__dataset=dataset).values(
        "applicant_id"
    )
    return list(User.objects.filter(pk__in=requesting, is_active=True).order_by("pk"))


def _announce_removal(dataset: Dataset, file: DatasetFile, revision: DatasetRevision) -> int:
    """One e-mail per applicant (never one message to all: applicants must not learn of each other)."""
    from access_requests.models import Application

    applicants = dataset_applicants(dataset)
    for applicant in applicants:
        references = list(
            Application.objects.filter(
                applicant=applicant, status__in=ANNOUNCED_APPLICATION_STATES, requested__dataset=dataset
            )
            .order_by("reference")
            .values_list("reference", flat=True)
        )
        notification_queue(
            to=applicant,
            template="dataset_file_removed",
            context={
                "dataset": dataset,
                "file": file,
                "revision": revision,
                "references": references,
                "dataset_path": reverse("catalogue:dataset-detail", args=[dataset.identifier]) + "#changes",
            },
        )
    return len(applicants)


def _refuse_removal(name: str, message: str):
    raise InvalidInput(f"{name}: {message}", fields={name: [message]})


def dataset_file_remove(*, actor, dataset: Dataset, path: str, reason: str, sha256: str = "") -> DatasetFile:
    """Remove a file registered by mistake from `dataset`, saying why; only a steward of its holder may.

    The registration is marked removed, never deleted, and the bytes stay in the holder's storage:
    every listing, total, export and download leaves the file out from now on. Before publication
    that is all (audited). Once the dataset has been published, the removal makes a new version
    (`DatasetRevision`, shown on the dataset's page) and every applicant of an application that
    requests the dataset is told by e-mail. `sha256`, when given, must be the content the caller
    means to remove (409 if the file at `path` has changed since). Removing a file already removed
    returns it quietly.
    """
    require_steward(actor, dataset.holder)
    reason = (reason or "").strip()
    path = (path or "").strip()
    if not path:
        _refuse_removal("path", "Name the file to remove by its path.")
    if not reason:
        _refuse_removal("reason", "Say why the file is removed: the reason is recorded and shown with the change.")
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().select_related("holder").get(pk=dataset.pk)
        file = locked.files.select_for_update().filter(path=path).first()
        if file is None:
            removed = (
                DatasetFile.all_registrations.filter(dataset=locked, path=path, removed_at__isnull=False)
                .order_by("-removed_at")
                .first()
            )
            if removed is not None and sha256 in ("", removed.sha256):
                return removed
            _refuse_removal("path", "No file of this dataset is registered at this path.")
        if sha256 and sha256 != file.sha256:
            raise TransitionError(
                "The file at this path has other content than the checksum given: read the file list again.",
                code="file_changed",
            )
        revision = None
        if _ever_published(locked):
            revision = _revision_create(locked, actor=actor, reason=reason[:2000], removed=1)
        file.removed_at = timezone.now()
        file.removed_by = actor if isinstance(actor, User) else None
        file.removal_reason = reason[:2000]
        file.removed_in = revision
        file.save(update_fields=["removed_at", "removed_by", "removal_reason", "removed_in"])
        announced = _announce_removal(locked, file, revision) if revision else 0
        payload = {"path": file.path, "sha256": file.sha256, "size_bytes": file.size_bytes, "reason": reason[:2000]}
        if revision:
            payload |= {"version": {"from": revision.previous_version, "to": revision.version}, "announced": announced}
        audit_record(actor=actor, verb="dataset.file_remove", target=locked, payload=payload)
        dataset_changed.send(sender=Dataset, dataset=locked, actor=actor, what=f"the file {file.path} was removed")
        catalogue_changed()  # the catalogue's export gives the dataset's byte size and checksums
    return file
