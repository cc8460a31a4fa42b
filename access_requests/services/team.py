"""Who on an application's team receives its notifications."""

from access_requests.models import Application


def team_member_emails(application: Application) -> list[str]:
    """Accepted members, at their own account's proved address, active accounts only.

    An invitation that is open, declined or expired is not membership: its address receives the
    invitation e-mail and nothing else (no message bodies, return comments or submission notices).
    """
    members = application.team.filter(
        joined_at__isnull=False,
        user__isnull=False,
        user__is_active=True,
        user__email_verified_at__isnull=False,
    ).select_related("user")
    return sorted({m.user.email for m in members})
