"""Processing entitlements: the events pushed to the data holder's processing environment (received
here by a real HTTP server the test starts, which checks each signature), and the GA4GH Passport
visas, verified with another JOSE library than the one that signs them against the served JWK Set."""

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from rest_framework.test import APIClient

from access_requests.models import DeliveryStatus, EntitlementEvent, Grant, GrantKind
from access_requests.services import entitlements as ent
from access_requests.services import grants as grants_service
from catalogue.models import DataHolder
from portal.models import AuditEvent
from tests.access_requests.test_api import client_for

SECRET = "s3cret-of-the-valencia-environment"


# --- a processing environment that receives the pushes --------------------------------------------


class Receiver:
    """An HTTP server on a loopback port that records each POST whose HMAC signature is right, and
    answers 401 to any other; `answer` sets the status it gives to the valid ones."""

    def __init__(self, port: int, secret: str = SECRET, delay: float = 0.0):
        self.port, self.secret, self.delay = port, secret, delay
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.answer = 204
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/entitlements"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers[ent.TIMESTAMP_HEADER] or ""
                expected = (
                    "sha256="
                    + hmac.new(receiver.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                )
                if not hmac.compare_digest(expected, self.headers[ent.SIGNATURE_HEADER] or ""):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                time.sleep(receiver.delay)
                receiver.received.append(
                    {
                        "event": int(self.headers["X-Entitlement-Event"]),
                        "sequence": int(self.headers["X-Entitlement-Sequence"]),
                        "grant": int(self.headers["X-Entitlement-Grant"]),
                        "body": json.loads(body),
                    }
                )
                self.send_response(receiver.answer)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def kinds(self) -> list[str]:
        return [r["body"]["event"] for r in self.received]


def free_port() -> int:
    """A loopback port nobody listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def receiver():
    receiver = Receiver(free_port())
    yield receiver
    receiver.stop()


def holder_points_at(grant: Grant, url: str, secret: str = SECRET) -> None:
    DataHolder.objects.filter(pk=grant.dataset.holder_id).update(processing_push_url=url, processing_push_secret=secret)


@pytest.fixture
def processing_grant(active) -> Grant:
    return Grant.objects.select_related("dataset", "application").get(application=active, kind=GrantKind.PROCESSING)


@pytest.fixture
def download_grant(active) -> Grant:
    return Grant.objects.select_related("dataset").get(application=active, kind=GrantKind.DOWNLOAD)


def events(grant) -> list[EntitlementEvent]:
    return list(EntitlementEvent.objects.filter(grant=grant).order_by("sequence"))


def add_events(grant, *kinds) -> None:
    """More events of the grant, as the services write them (the extension helper's `extended`)."""
    with transaction.atomic():
        for kind in kinds:
            grants_service.entitlement_event_add(grant, kind, timezone.now())


# --- pushes ----------------------------------------------------------------------------------------

pytestmark = pytest.mark.django_db


def test_without_an_address_the_granted_event_waits_pending(processing_grant):
    (event,) = events(processing_grant)
    assert (event.kind, event.sequence, event.status) == ("granted", 1, DeliveryStatus.PENDING)
    counts = ent.entitlements_deliver()
    event.refresh_from_db()
    assert counts["not_configured"] == 1 and counts["delivered"] == 0
    assert event.status == DeliveryStatus.PENDING and event.attempts == 0 and event.delivered_at is None
    assert "no processing environment address" in event.last_error


def test_events_are_signed_and_arrive_in_order_each_once(processing_grant, receiver):
    receiver.start()
    holder_points_at(processing_grant, receiver.url)
    add_events(processing_grant, "extended", "extended")
    counts = ent.entitlements_deliver()
    assert counts["delivered"] == 3
    assert [r["sequence"] for r in receiver.received] == [1, 2, 3]
    assert receiver.kinds() == ["granted", "extended", "extended"] and receiver.bad_signatures == 0
    first = receiver.received[0]["body"]
    assert first["grant"] == processing_grant.pk and first["dataset"] == "ES-MR-PROC"
    assert first["grantees"][0]["email"] == "alice@uni.example" and first["issuer"] == settings.SITE_URL
    for event in events(processing_grant):
        assert event.status == DeliveryStatus.DELIVERED and event.attempts == 1 and event.delivered_at
        assert event.last_error == ""
    # nothing is sent twice
    assert ent.entitlements_deliver()["delivered"] == 0
    assert len(receiver.received) == 3


def test_a_wrong_secret_is_refused_by_the_environment_and_retried(processing_grant, receiver):
    receiver.start()
    holder_points_at(processing_grant, receiver.url, secret="not-the-environment's")
    now = timezone.now()
    ent.entitlements_deliver(now=now)
    (event,) = events(processing_grant)
    assert receiver.bad_signatures == 1 and receiver.received == []
    assert event.status == DeliveryStatus.PENDING and event.attempts == 1
    assert event.last_error.startswith("HTTP 401") and event.next_attempt_at == now + timedelta(seconds=30)


def test_a_receiver_that_is_down_then_comes_back(processing_grant, receiver):
    holder_points_at(processing_grant, receiver.url)  # nothing listens there yet
    add_events(processing_grant, "extended")
    now = timezone.now()
    counts = ent.entitlements_deliver(now=now)
    assert counts == {**counts, "delivered": 0, "failed": 1}
    first, second = events(processing_grant)
    assert first.status == second.status == DeliveryStatus.PENDING
    assert first.attempts == 1 and first.next_attempt_at == now + timedelta(seconds=30)
    assert "refused" in first.last_error.lower() or "error" in first.last_error.lower()
    assert second.attempts == 0  # stopped at the first failure: order per grant

    # before the backoff has passed nothing is tried, even though the receiver is now up
    receiver.start()
    assert ent.entitlements_deliver(now=now + timedelta(seconds=10))["waiting"] == 1
    assert receiver.received == []

    # a second failure doubles the wait
    receiver.stop()
    later = now + timedelta(seconds=31)
    ent.entitlements_deliver(now=later)
    first.refresh_from_db()
    assert first.attempts == 2 and first.next_attempt_at == later + timedelta(seconds=60)

    # it comes back; past the backoff both are delivered, in order, once each
    receiver.start()
    back = later + timedelta(seconds=61)
    assert ent.entitlements_deliver(now=back)["delivered"] == 2
    assert [(r["sequence"], r["body"]["event"]) for r in receiver.received] == [(1, "granted"), (2, "extended")]
    first, second = events(processing_grant)
    assert (first.status, first.attempts, first.delivered_at) == (DeliveryStatus.DELIVERED, 3, back)
    assert (second.status, second.attempts) == (DeliveryStatus.DELIVERED, 1)
    ent.entitlements_deliver(now=back + timedelta(hours=1))
    assert len(receiver.received) == 2


def test_an_error_answer_is_a_failure_and_the_backoff_is_capped(processing_grant, receiver):
    receiver.start()
    receiver.answer = 500
    holder_points_at(processing_grant, receiver.url)
    now = timezone.now()
    ent.entitlements_deliver(now=now)
    (event,) = events(processing_grant)
    assert event.status == DeliveryStatus.PENDING and event.last_error.startswith("HTTP 500")
    assert [ent.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert ent.backoff(30) == timedelta(hours=6)


def test_revocation_pushes_revoked(processing_grant, receiver, rdo, django_capture_on_commit_callbacks):
    receiver.start()
    holder_points_at(processing_grant, receiver.url)
    ent.entitlements_deliver()
    with django_capture_on_commit_callbacks(execute=True):  # the service queues delivery after its commit
        grants_service.grant_revoke(actor=rdo, grant=processing_grant, reason="Data used outside the protocol.")
    assert receiver.kinds() == ["granted", "revoked"]
    revoked = receiver.received[1]["body"]
    assert revoked["status"] == "revoked" and revoked["sequence"] == 2
    assert all(e.status == DeliveryStatus.DELIVERED for e in events(processing_grant))


def test_expiry_pushes_ended(processing_grant, receiver):
    receiver.start()
    holder_points_at(processing_grant, receiver.url)
    after = timezone.make_aware(datetime.combine(processing_grant.valid_until + timedelta(days=1), clock_time(1)))
    grants_service.grants_sweep(now=after)
    ent.entitlements_deliver(now=after)
    assert receiver.kinds() == ["granted", "ended"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_deliver_an_event_twice_or_out_of_order(processing_grant):
    receiver = Receiver(free_port(), delay=0.2).start()
    try:
        holder_points_at(processing_grant, receiver.url)
        add_events(processing_grant, "extended", "extended", "extended")
        barrier = threading.Barrier(3)

        def worker():
            try:
                barrier.wait(timeout=10)
                ent.entitlements_deliver()
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        ent.entitlements_deliver()  # whatever a skipped worker left is delivered now
        assert [r["sequence"] for r in receiver.received] == [1, 2, 3, 4]
        assert all(e.status == DeliveryStatus.DELIVERED and e.attempts == 1 for e in events(processing_grant))
    finally:
        receiver.stop()


# --- visas -----------------------------------------------------------------------------------------


def served_keys() -> KeySet:
    response = APIClient().get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert APIClient().get("/api/v1/jwks/").json() == response.json()
    return KeySet.import_key_set(response.json())


def passport(user) -> list[str]:
    response = client_for(user).get("/api/v1/passport/")
    assert response.status_code == 200, response.content
    return response.json()["ga4gh_passport_v1"]


def at(monkeypatch, moment: datetime) -> None:
    """Move the portal's clock."""
    monkeypatch.setattr(timezone, "now", lambda: moment)


def end_of(day) -> int:
    return int(timezone.make_aware(datetime.combine(day, clock_time(23, 59, 59))).timestamp())


def test_a_visa_per_processing_grant_verifies_against_the_served_keys(processing_grant, alice):
    (visa,) = passport(alice)  # the download grant gets none
    token = jose_jwt.decode(visa, served_keys(), algorithms=["ES256", "RS256"])
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": settings.SITE_URL},
        sub={"essential": True, "value": str(alice.pk)},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
    )
    registry.validate(token.claims)
    claims = token.claims
    assert token.header["jku"] == f"{settings.SITE_URL}/.well-known/jwks.json" and token.header["kid"]
    assert claims["exp"] - claims["iat"] <= settings.VISA_LIFETIME_SECONDS
    assert claims["exp"] <= end_of(processing_grant.valid_until)
    assert claims["ga4gh_visa_v1"] == {
        "type": "ControlledAccessGrants",
        "asserted": int(processing_grant.issued_at.timestamp()),
        "value": f"{settings.SITE_URL}/catalogue/datasets/ES-MR-PROC/",
        "source": settings.SITE_URL,
        "by": "dac",
    }
    event = AuditEvent.objects.get(verb="visa.issue")
    assert event.payload["grants"] == [processing_grant.pk] and event.payload["exp"] == claims["exp"]


def test_a_visa_never_outlives_the_grants_last_day(processing_grant, alice, monkeypatch):
    last_evening = timezone.make_aware(datetime.combine(processing_grant.valid_until, clock_time(23, 30)))
    at(monkeypatch, last_evening)
    (visa,) = passport(alice)
    claims = jose_jwt.decode(visa, served_keys()).claims
    assert claims["exp"] == end_of(processing_grant.valid_until) < claims["iat"] + settings.VISA_LIFETIME_SECONDS


def test_no_visa_once_the_grant_has_expired(processing_grant, alice, monkeypatch):
    at(
        monkeypatch,
        timezone.make_aware(datetime.combine(processing_grant.valid_until + timedelta(days=1), clock_time(9))),
    )
    assert passport(alice) == []
    assert not AuditEvent.objects.filter(verb="visa.issue").exists()


def test_no_visa_once_the_grant_is_revoked(processing_grant, alice, rdo):
    assert len(passport(alice)) == 1
    grants_service.grant_revoke(actor=rdo, grant=processing_grant, reason="Data used outside the protocol.")
    assert passport(alice) == []


def test_no_visa_for_a_download_grant_nor_for_someone_else(download_grant, processing_grant, alice, bob):
    Grant.objects.filter(pk=processing_grant.pk).update(kind=GrantKind.DOWNLOAD)
    assert passport(alice) == []
    Grant.objects.filter(pk=processing_grant.pk).update(kind=GrantKind.PROCESSING)
    assert passport(bob) == []
    assert len(passport(alice)) == 1


def test_anonymous_callers_must_sign_in_but_may_read_the_keys(active):
    response = APIClient().get("/api/v1/passport/")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    keys = APIClient().get("/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] in {"ES256", "RS256"} and "d" not in keys[0]


def test_without_a_key_the_passport_answers_503_not_500(active, alice, settings, tmp_path):
    settings.VISA_SIGNING_KEY = str(tmp_path / "nowhere.pem")
    response = client_for(alice).get("/api/v1/passport/")
    assert response.status_code == 503
    assert response.json()["code"] == "visa_key_missing" and "VISA_SIGNING_KEY" in response.json()["detail"]
    assert APIClient().get("/.well-known/jwks.json").status_code == 503
    assert not AuditEvent.objects.filter(verb="visa.issue").exists()


def test_a_rotated_key_stays_published_until_its_visas_expire(processing_grant, alice, settings, tmp_path):
    from cryptography.hazmat.primitives import serialization

    from access_requests.services.visas import signing_key, visa_dev_key_create

    (old_visa,) = passport(alice)
    old_public = tmp_path / "previous.pem"
    old_public.write_bytes(
        signing_key()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    settings.VISA_SIGNING_KEY = str(visa_dev_key_create(tmp_path / "new-key.pem"))
    settings.VISA_PREVIOUS_PUBLIC_KEYS = [str(old_public)]
    (new_visa,) = passport(alice)
    keys = served_keys()
    old_kid = jose_jwt.decode(old_visa, keys).header["kid"]
    new_kid = jose_jwt.decode(new_visa, keys).header["kid"]
    assert old_kid != new_kid


def test_the_dev_key_command_makes_a_key_once(settings, tmp_path):
    import io

    from django.core.management import CommandError, call_command

    settings.VISA_KEY_DIR = tmp_path / "visa"
    settings.VISA_SIGNING_KEY = str(tmp_path / "visa" / "visa-key.pem")
    call_command("visa_dev_key", stdout=io.StringIO())
    first = (tmp_path / "visa" / "visa-key.pem").read_bytes()
    assert b"PRIVATE KEY" in first and (tmp_path / "visa" / "visa-key.pem").stat().st_mode & 0o077 == 0
    call_command("visa_dev_key", "--if-missing", stdout=io.StringIO())
    assert (tmp_path / "visa" / "visa-key.pem").read_bytes() == first
    with pytest.raises(CommandError):
        call_command("visa_dev_key", stdout=io.StringIO())
    settings.VISA_SIGNING_KEY = str(tmp_path / "production.pem")
    with pytest.raises(CommandError):
        call_command("visa_dev_key", stdout=io.StringIO())


# --- the RDO's view ---------------------------------------------------------------------------------


def test_the_rdo_sees_each_event_and_why_it_waits(processing_grant, rdo, alice, charlie, client, receiver):
    url = f"/grants/{processing_grant.pk}/deliveries/"
    client.force_login(rdo)
    detail = client.get(f"/applications/{processing_grant.application_id}/")
    assert url in detail.content.decode()
    page = client.get(url).content.decode()
    assert "has no processing environment address configured" in page and "Waiting to be delivered" in page
    receiver.start()
    holder_points_at(processing_grant, receiver.url)
    ent.entitlements_deliver()
    page = client.get(url).content.decode()
    assert "Every event has been delivered" in page and "Granted" in page
    client.force_login(alice)
    assert client.get(url).status_code == 403  # a grantee sees the grant, but this page is the RDO's
    assert url not in client.get(f"/applications/{processing_grant.application_id}/").content.decode()
    client.force_login(charlie)
    assert client.get(url).status_code == 404


def test_an_operator_sets_the_environment_with_the_command(processing_grant, receiver):
    import io

    from django.core.management import CommandError, call_command

    slug = processing_grant.dataset.holder.slug
    with pytest.raises(CommandError, match="32 characters"):
        call_command("holder_processing", slug, "--url", receiver.url, stdout=io.StringIO())
    out = io.StringIO()
    call_command("holder_processing", slug, "--url", receiver.url, "--generate-secret", stdout=out)
    secret = out.getvalue().rsplit(": ", 1)[1].strip()
    holder = DataHolder.objects.get(slug=slug)
    assert holder.processing_push_url == receiver.url and holder.processing_push_secret == secret
    event = AuditEvent.objects.get(verb="data_holder.processing_set")
    assert event.payload == {"push_url": receiver.url, "secret_changed": True} and secret not in json.dumps(
        event.payload
    )
    receiver.secret = secret
    receiver.start()
    ent.entitlements_deliver()
    assert receiver.kinds() == ["granted"]
