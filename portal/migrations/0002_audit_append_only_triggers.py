"""Refuse UPDATE and DELETE on audit events in the database itself.

The model layer refuses them too; the triggers also stop raw SQL and other clients. The
chain head may only move forward and never be deleted.
"""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION portal_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditevent_append_only
    BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_audit_refuse_change();

CREATE OR REPLACE FUNCTION portal_audit_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit chain head cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.seq <> OLD.seq + 1 THEN
        RAISE EXCEPTION 'the audit chain head only moves forward one event at a time (% -> %)', OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditchainhead_forward_only
    BEFORE UPDATE OR DELETE ON portal_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION portal_audit_head_forward_only();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS portal_auditevent_append_only ON portal_auditevent;
DROP TRIGGER IF EXISTS portal_auditchainhead_forward_only ON portal_auditchainhead;
DROP FUNCTION IF EXISTS portal_audit_refuse_change();
DROP FUNCTION IF EXISTS portal_audit_head_forward_only();
"""

SQLITE_FORWARD = [
    """CREATE TRIGGER portal_auditevent_no_update BEFORE UPDATE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER portal_auditevent_no_delete BEFORE DELETE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;""",
    """CREATE TRIGGER portal_auditchainhead_no_delete BEFORE DELETE ON portal_auditchainhead
       BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END;""",
    """CREATE TRIGGER portal_auditchainhead_forward_only BEFORE UPDATE ON portal_auditchainhead
       WHEN NEW.seq <> OLD.seq + 1
       BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward one event at a time'); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS portal_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS portal_auditevent_no_delete;",
    "DROP TRIGGER IF EXISTS portal_auditchainhead_no_delete;",
    "DROP TRIGGER IF EXISTS portal_auditchainhead_forward_only;",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [migrations.RunPython(forward, reverse)]
