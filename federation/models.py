"""The partner nodes this node works with, and the nonces of the signed requests they sent."""

import base64
import binascii
import hashlib

from django.core.exceptions import ValidationError
from django.db import models


def key_id_of(raw_public_key: bytes) -> str:
    """A node key's id in its signatures: the SHA-256 of the raw Ed25519 public key, 32 hex digits."""
    return hashlib.sha256(raw_public_key).hexdigest()[:32]


def raw_public_key(text: str) -> bytes:
    """The 32 bytes of an Ed25519 public key given in base64; ValidationError when it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("Not base64: paste the node's public key as its identity page shows it.") from exc
    if len(raw) != 32:
        raise ValidationError(f"An Ed25519 public key is 32 bytes; this one is {len(raw)}.")
    return raw


class Node(models.Model):
    """A partner node: another deployment of the portal (a hospital or a national hub) whose signed
    requests this node answers and whose catalogue and counts it asks for. Listed by an administrator;
    its public key comes from the partner's identity document (`/federation/node.json`)."""

    name = models.CharField(max_length=200, unique=True)
    base_url = models.URLField(unique=True, help_text="the node's address, e.g. https://imaging.hospital.example")
    public_key = models.CharField(
        max_length=64, help_text="the node's Ed25519 public key, base64 (from its /federation/node.json)"
    )
    key_id = models.CharField(max_length=32, unique=True, editable=False)
    active = models.BooleanField(default=True, help_text="an inactive node is neither asked nor answered")
    honours_grants = models.BooleanField(
        default=False,
        help_text="this node enforces the grants the partner's committee issues for this node's datasets",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.base_url = (self.base_url or "").rstrip("/")
        try:
            self.key_id = key_id_of(raw_public_key(self.public_key))
        except ValidationError as exc:
            raise ValidationError({"public_key": exc.messages}) from exc


class SeenNonce(models.Model):
    """The nonce of a signed request this node accepted, kept while its signature could still be
    fresh: the same nonce from the same key again is a replay and is refused."""

    key_id = models.CharField(max_length=32)
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"], name="federation_nonce_once")]

    def __str__(self) -> str:
        return f"{self.key_id}: {self.nonce}"


class ReceivedGrantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class ReceivedGrant(models.Model):
    """A grant a partner node issued for one of this node's own datasets, as its signed pushes told
    it (federation/grants.py): the partner's committee decided and its agreement was executed there;
    this node enforces it where the data live. Each event is applied once, in the partner's order
    (`last_sequence`); the dates are checked again at every use."""

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="received_grants")
    remote_grant = models.PositiveBigIntegerField(help_text="the grant's number at the partner node")
    dataset = models.ForeignKey("catalogue.Dataset", on_delete=models.PROTECT, related_name="received_grants")
    kind = models.CharField(max_length=10, choices=[("download", "Download"), ("processing", "Processing")])
    access_mode = models.CharField(max_length=40)
    application_reference = models.CharField(max_length=40)
    status = models.CharField(max_length=8, choices=ReceivedGrantStatus.choices, default=ReceivedGrantStatus.ACTIVE)
    valid_from = models.DateField()
    valid_until = models.DateField(help_text="the last day of access, inclusive")
    grantees = models.JSONField(default=list, help_text="[{sub, email, name}] as the partner names them")
    last_sequence = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["node", "remote_grant"], name="received_grant_once_per_node"),
            models.CheckConstraint(
                condition=models.Q(valid_from__lte=models.F("valid_until")), name="received_grant_period_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"grant {self.remote_grant} of {self.node} for {self.dataset_id}"

    def grantee(self, sub: str) -> dict | None:
        return next((g for g in self.grantees if str(g.get("sub")) == str(sub)), None)


class ReceivedDownload(models.Model):
    """One file sent to a grantee of a received download grant, recorded before the first byte."""

    grant = models.ForeignKey(ReceivedGrant, on_delete=models.PROTECT, related_name="downloads")
    grantee_sub = models.CharField(max_length=64)
    grantee_email = models.EmailField()
    file = models.ForeignKey("catalogue.DatasetFile", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    range_start = models.PositiveBigIntegerField(null=True, blank=True)
    range_end = models.PositiveBigIntegerField(null=True, blank=True)
    bytes_sent = models.PositiveBigIntegerField()
    status_code = models.PositiveSmallIntegerField(default=200)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"download of file {self.file_id} by {self.grantee_email}"
