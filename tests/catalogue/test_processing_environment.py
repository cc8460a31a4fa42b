"""A data holder's processing environment: what grantees of its processing grants read, and where its
entitlement events are pushed; set through the service, audited without the secret, once."""

import pytest

from catalogue.models import DataHolder
from catalogue.services import data_holder_processing_configure
from portal.errors import InvalidInput
from portal.models import AuditEvent
from portal.services.audit import audit_verify

WORDS = "Riga secure workspace: https://workspace.riga.example, research VPN required."


def test_configuring_sets_the_environment_and_audits_it_without_the_secret(holder):
    data_holder_processing_configure(
        actor="system:test",
        holder=holder,
        environment=f"  {WORDS}\n",
        push_url="https://workspace.riga.example/entitlements",
        push_secret="s3cret-key-of-the-holder",
    )
    row = DataHolder.objects.get(pk=holder.pk)
    assert row.processing_environment == WORDS
    assert row.processing_push_url == "https://workspace.riga.example/entitlements"
    assert row.processing_push_secret == "s3cret-key-of-the-holder"
    event = AuditEvent.objects.get(verb="data_holder.processing_configure")
    assert event.payload["changed"] == ["environment", "push_url", "push_secret"]
    assert "s3cret" not in str(event.payload)
    # the same settings again, the secret kept (None): nothing written
    data_holder_processing_configure(
        actor="system:test", holder=row, environment=WORDS, push_url="https://workspace.riga.example/entitlements"
    )
    assert AuditEvent.objects.filter(verb="data_holder.processing_configure").count() == 1
    assert DataHolder.objects.get(pk=holder.pk).processing_push_secret == "s3cret-key-of-the-holder"
    assert audit_verify().ok


def test_an_address_that_is_no_url_is_refused_and_nothing_changes(holder):
    with pytest.raises(InvalidInput) as refused:
        data_holder_processing_configure(actor="system:test", holder=holder, environment=WORDS, push_url="not a url")
    assert "processing_push_url" in refused.value.fields
    row = DataHolder.objects.get(pk=holder.pk)
    assert (row.processing_environment, row.processing_push_url) == ("", "")
    assert not AuditEvent.objects.filter(verb="data_holder.processing_configure").exists()
