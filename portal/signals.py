"""Sign-ins, sign-outs and lockouts go into the audit chain; failed sign-ins do not.

A failed sign-in is anonymous: recording each one in the hash-chained log would let anyone grow
the chain without bound. django-axes keeps failures in its own table (old rows are removed after
the cool-off); only a lockout of an existing account is audited, once per cool-off period.
"""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from portal.services.audit import audit_record


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(actor=user, verb="user.login", target=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, verb="user.logout", target=user)


@receiver(user_locked_out)
def _locked_out(sender, request, username=None, ip_address=None, **kwargs):
    # axes also signals each refused attempt during a lockout; only the lockout itself counts here.
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    from portal.services.accounts import login_lockout_record

    login_lockout_record(username=username, ip_address=ip_address)
