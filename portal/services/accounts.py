"""Accounts, role membership, e-mail proof, password changes and sign-in lockouts.

An account made through self sign-up starts with an unproved e-mail address
(`email_verified_at` null): it cannot sign in, hold a session or use a token until its owner
follows the signed, expiring link sent to the address. Sign-up and the e-mails it sends never
tell the caller whether an address already has an account.
"""

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from portal.errors import InvalidInput
from portal.models import Role, User
from portal.ratelimit import rate_limit_check
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

EMAIL_PROOF_SALT = "portal.accounts.email-proof"
SELF_REGISTRATION = "self-registration"


def user_create(
    *,
    actor,
    email: str,
    full_name: str,
    password: str | None,
    roles: list[str] = (),
    organisation: str = "",
    country: str = "",
    email_verified: bool = True,
) -> User:
    """Create an account with its role groups, audited.

    Accounts made by the portal's services count as proved (`email_verified`); self sign-up
    passes False and the owner proves the address with `email_verify`.
    """
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"Unknown roles: {', '.join(sorted(unknown))}")
    extra = {} if email_verified else {"email_verified_at": None}
    with transaction.atomic():
        user = User.objects.create_user(
            email=email, password=password, full_name=full_name, organisation=organisation, country=country, **extra
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        audit_record(
            actor=actor,
            verb="user.create",
            target=user,
            payload={"email": user.email, "roles": sorted(roles), "email_verified": email_verified},
        )
    return user


def user_grant_role(*, actor, user: User, role: str) -> None:
    """Add `user` to a role group; a no-op when they already hold it."""
    if role not in Role.values:
        raise ValueError(f"Unknown role: {role}")
    with transaction.atomic():
        group, _ = Group.objects.get_or_create(name=role)
        if user.groups.filter(pk=group.pk).exists():
            return
        user.groups.add(group)
        user.__dict__.pop("_roles_cache", None)
        audit_record(actor=actor, verb="user.role_grant", target=user, payload={"role": role})


# --- e-mail proof -------------------------------------------------------------------------


def _fingerprint(user: User) -> str:
    """Changes when the password, the address or the proof changes: a link works once, for one sign-up."""
    value = f"{user.pk}|{user.password}|{user.email}|{user.email_verified_at}"
    return salted_hmac(EMAIL_PROOF_SALT, value).hexdigest()[:32]


def email_proof_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "f": _fingerprint(user)}, salt=EMAIL_PROOF_SALT)


def email_proof_url(user: User) -> str:
    return settings.SITE_URL + reverse("email-verify", kwargs={"token": email_proof_token(user)})


def _email_proof_send(user: User) -> None:
    notification_queue(
        to=user.email,
        template="email_proof",
        context={
            "user": user,
            "url": email_proof_url(user),
            "hours": max(1, settings.EMAIL_PROOF_MAX_AGE_SECONDS // 3600),
        },
    )


def email_proof_user(token: str) -> User | None:
    """The unproved account a link was made for, if it is genuine, unexpired and unused; else None."""
    try:
        data = signing.loads(token, salt=EMAIL_PROOF_SALT, max_age=settings.EMAIL_PROOF_MAX_AGE_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = User.objects.filter(pk=data["u"], email_verified_at__isnull=True, is_active=True).first()
    if user is None or not constant_time_compare(str(data.get("f", "")), _fingerprint(user)):
        return None
    return user


def email_verify(*, token: str) -> User:
    """Mark the address proved: the link's owner read the mail sent to it. Works once, audited."""
    with transaction.atomic():
        user = email_proof_user(token)
        if user is not None:
            user = User.objects.select_for_update().get(pk=user.pk)
            if user.email_verified_at is not None or user != email_proof_user(token):
                user = None
        if user is None:
            raise InvalidInput(
                "This confirmation link is not valid: it was used already, has expired or was changed. "
                "Ask for a new one below.",
                code="invalid_link",
            )
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit_record(actor=user, verb="user.email_verify", target=user, payload={"email": user.email})
    return user


def _client_limits(*, scope: str, client: str | None, email: str, per_client: int) -> None:
    """Per client address and per target address, so neither a caller nor a mailbox is flooded."""
    rate_limit_check(
        scope=f"{scope}:client",
        subject=client,
        limit=per_client,
        message="Too many requests from your network address: try again in an hour.",
    )
    rate_limit_check(
        scope=f"{scope}:address",
        subject=email,
        limit=settings.EMAIL_RATE_PER_ADDRESS_PER_HOUR,
        message="Too many messages were sent to this address: try again in an hour.",
    )


def user_signup(
    *, email: str, full_name: str, password: str, organisation: str = "", country: str = "", client: str | None
) -> None:
    """Self sign-up of a researcher. Answers the same whether or not the address has an account.

    - a new address gets an unproved account and a link to prove it;
    - an address with a proved account gets an e-mail saying so (sign in or reset the password),
      and nothing changes;
    - an address with an unproved account (perhaps someone else's attempt) gets its details and
      password replaced by this sign-up and a new link; earlier links stop working, so only the
      person who reads the mailbox can ever prove it.
    Rate-limited per client address and per e-mail address.
    """
    email = User.objects.normalize_email(email or "").strip().lower()
    _client_limits(scope="signup", client=client, email=email, per_client=settings.SIGNUP_RATE_PER_HOUR)
    with transaction.atomic():
        existing = User.objects.select_for_update().filter(email__iexact=email).first()
        if existing is None:
            user = user_create(
                actor=SELF_REGISTRATION,
                email=email,
                full_name=full_name,
                password=password,
                roles=[Role.RESEARCHER],
                organisation=organisation,
                country=country,
                email_verified=False,
            )
            _email_proof_send(user)
        elif existing.email_verified_at is not None or not existing.is_active:
            make_password(password)  # the same work as a new account, so timing tells nothing either
            notification_queue(
                to=existing.email,
                template="account_exists",
                context={"user": existing, "login_url": settings.SITE_URL + reverse("login")},
            )
        else:
            existing.full_name = full_name
            existing.organisation = organisation
            existing.country = country
            existing.set_password(password)
            existing.save(update_fields=["full_name", "organisation", "country", "password"])
            audit_record(actor=SELF_REGISTRATION, verb="user.signup_renew", target=existing, payload={"email": email})
            _email_proof_send(existing)


def email_proof_resend(*, email: str, client: str | None) -> None:
    """Send a new proof link if `email` has an unproved account; the caller cannot tell which. Rate-limited."""
    email = User.objects.normalize_email(email or "").strip().lower()
    _client_limits(scope="email-proof", client=client, email=email, per_client=settings.SIGNUP_RATE_PER_HOUR)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email, email_verified_at__isnull=True, is_active=True).first()
        if user is not None:
            _email_proof_send(user)


def password_reset_limit(*, email: str, client: str | None) -> None:
    """Password reset requests are limited per client address and per address asked for."""
    email = User.objects.normalize_email(email or "").strip().lower()
    _client_limits(scope="password-reset", client=client, email=email, per_client=settings.PASSWORD_RESET_RATE_PER_HOUR)


def user_password_set(*, actor, user: User, password: str, reason: str) -> User:
    """Set a new password (after a reset link, or by the user), audited; the hash never enters the log."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, verb="user.password_set", target=user, payload={"reason": reason})
    return user


# --- sign-in lockouts ---------------------------------------------------------------------


def login_lockout_record(*, username: str | None, ip_address: str | None) -> None:
    """One audit event when an existing account is locked out after repeated failed sign-ins.

    Failed sign-ins themselves stay in django-axes' table, never in the audit chain, and a
    lockout of an address nobody owns writes nothing: anonymous callers cannot grow the chain.
    At most one event per account per cool-off period.
    """
    user = User.objects.filter(email__iexact=(username or "").strip()).first() if username else None
    if user is None:
        return
    cool_off_seconds = int(float(settings.AXES_COOLOFF_TIME or 1) * 3600)
    if not cache.add(f"lockout-audited:{user.pk}", 1, timeout=cool_off_seconds):
        return
    with transaction.atomic():
        audit_record(
            actor="login-guard",
            verb="user.login_lockout",
            target=user,
            payload={"failures": settings.AXES_FAILURE_LIMIT, "ip_address": ip_address or ""},
        )
