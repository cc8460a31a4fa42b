"""Pending team invitations become memberships when the invited person signs up."""

from django.dispatch import receiver

from portal.services.accounts import user_created


@receiver(user_created)
def _claim_invitations(sender, user, **kwargs):
    from access_requests.services.applications import team_invitations_claim

    team_invitations_claim(user=user)
