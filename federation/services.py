"""Changes to the list of partner nodes: the Research Data Office's, each in one transaction with its audit event."""

from django.core.exceptions import ValidationError
from django.db import transaction

from federation.models import Node
from portal.access import require_actor
from portal.errors import InvalidInput
from portal.services.audit import audit_record


def node_add(*, actor, name: str, base_url: str, public_key: str) -> Node:
    """List a partner node: its requests are answered and it is asked in federated queries."""
    require_actor(actor, "rdo")
    with transaction.atomic():
        node = Node(name=name.strip(), base_url=base_url.strip().rstrip("/"), public_key=public_key.strip())
        try:
            node.full_clean()
        except ValidationError as exc:
            raise InvalidInput("Check the partner node's name, address and key.", fields=exc.message_dict) from exc
        node.save()
        audit_record(
            actor=actor,
            verb="federation.node_add",
            target=node,
            payload={"name": node.name, "base_url": node.base_url, "key_id": node.key_id},
        )
    return node


def node_set_active(*, actor, node: Node, active: bool) -> Node:
    """Stop (or resume) working with a partner: an inactive node is neither asked nor answered."""
    require_actor(actor, "rdo")
    with transaction.atomic():
        node = Node.objects.select_for_update().get(pk=node.pk)
        if node.active != active:
            node.active = active
            node.save(update_fields=["active", "updated_at"])
            audit_record(
                actor=actor, verb="federation.node_resume" if active else "federation.node_suspend", target=node
            )
    return node


def node_honour_grants(*, actor, node: Node, honours: bool) -> Node:
    """Agree (or stop agreeing) to enforce the grants the partner's committee issues for this
    node's datasets (federation/grants.py). Grants received before keep their state; new events
    from a partner no longer honoured are refused."""
    require_actor(actor, "rdo")
    with transaction.atomic():
        node = Node.objects.select_for_update().get(pk=node.pk)
        if node.honours_grants != honours:
            node.honours_grants = honours
            node.save(update_fields=["honours_grants", "updated_at"])
            audit_record(actor=actor, verb="federation.grants_honour", target=node, payload={"honours": honours})
    return node


def node_rekey(*, actor, node: Node, public_key: str) -> Node:
    """A partner's new public key (after it rotated its key): its requests verify with this one only."""
    require_actor(actor, "rdo")
    with transaction.atomic():
        node = Node.objects.select_for_update().get(pk=node.pk)
        old = node.key_id
        node.public_key = public_key.strip()
        try:
            node.full_clean()
        except ValidationError as exc:
            raise InvalidInput("Check the partner node's key.", fields=exc.message_dict) from exc
        node.save()
        if node.key_id != old:
            audit_record(
                actor=actor, verb="federation.node_rekey", target=node, payload={"old": old, "new": node.key_id}
            )
    return node
