"""A data holder's processing environment: what grantees of its processing grants read, and where its
entitlement events are pushed; set through the service (the same as on branch h-ent), audited without
the secret."""

import pytest

from catalogue.models import DataHolder
from catalogue.services import data_holder_processing_set
from portal.errors import InvalidInput
from portal.models import AuditEvent
from portal.services.audit import audit_verify

WORDS = "Riga secure workspace: https://workspace.riga.example, research VPN required."
SECRET = "s3cret-key-of-the-holder-0123456789abcdef"


def test_setting_the_environment_is_audited_without_the_secret(holder):
    data_holder_processing_set(
        actor="system:test",
        holder=holder,
        environment=f"  {WORDS}\n",
        push_url="https://workspace.riga.example/entitlements",
        push_secret=SECRET,
    )
    row = DataHolder.objects.get(pk=holder.pk)
    assert row.processing_environment == WORDS
    assert (row.processing_push_url, row.processing_push_secret) == (
        "https://workspace.riga.example/entitlements",
        SECRET,
    )
    event = AuditEvent.objects.get(verb="data_holder.processing_set")
    assert event.payload["environment"] == WORDS and event.payload["secret_changed"] is True
    assert SECRET not in str(event.payload)
    # only the words changed: the address and the secret stay
    data_holder_processing_set(actor="system:test", holder=row, environment="Ask the steward.")
    row = DataHolder.objects.get(pk=holder.pk)
    assert (row.processing_environment, row.processing_push_secret) == ("Ask the steward.", SECRET)
    assert audit_verify().ok


@pytest.mark.parametrize(
    ("push_url", "push_secret", "field"),
    [("not a url", SECRET, "processing_push_url"), ("https://env.example/in", "short", "push_secret")],
)
def test_a_bad_address_or_a_short_secret_is_refused_and_nothing_changes(holder, push_url, push_secret, field):
    from django.core.exceptions import ValidationError

    with pytest.raises((InvalidInput, ValidationError)) as refused:
        data_holder_processing_set(
            actor="system:test", holder=holder, environment=WORDS, push_url=push_url, push_secret=push_secret
        )
    fields = getattr(refused.value, "fields", None) or getattr(refused.value, "message_dict", {})
    assert field in fields
    row = DataHolder.objects.get(pk=holder.pk)
    assert (row.processing_environment, row.processing_push_url) == ("", "")
    assert not AuditEvent.objects.filter(verb="data_holder.processing_set").exists()
