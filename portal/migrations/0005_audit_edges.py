"""Refuse TRUNCATE of the audit tables on PostgreSQL.

Row triggers (0002) do not fire on TRUNCATE, so without this a single `TRUNCATE
portal_auditevent, portal_auditchainhead` (or a `TRUNCATE portal_user CASCADE`, or a
`manage.py flush` run against the wrong database) would empty the chain and leave a valid
empty chain behind. The statement trigger refuses it unless the transaction has set
`portal.audit_truncate = 'allow'` (SET LOCAL): only the test suite's flush does that.

This guards against accidents, not against the database owner or a superuser, who can set
the same variable, disable triggers or drop them; the anchors that `audit_anchor_write`
keeps outside the database are what detect that. SQLite has no TRUNCATE: its DELETE
triggers (0002) already fire on `DELETE FROM` without a WHERE clause.
"""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION portal_audit_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('portal.audit_truncate', true), '') = 'allow' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log cannot be truncated: TRUNCATE refused on %', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditevent_no_truncate
    BEFORE TRUNCATE ON portal_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION portal_audit_refuse_truncate();

CREATE TRIGGER portal_auditchainhead_no_truncate
    BEFORE TRUNCATE ON portal_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION portal_audit_refuse_truncate();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS portal_auditevent_no_truncate ON portal_auditevent;
DROP TRIGGER IF EXISTS portal_auditchainhead_no_truncate ON portal_auditchainhead;
DROP FUNCTION IF EXISTS portal_audit_refuse_truncate();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_identity")]

    operations = [migrations.RunPython(forward, reverse)]
