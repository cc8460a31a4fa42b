"""Indexes for the audit log's filters, and a chain head that may move forward by several events at once.

The log pages newest first by seq under a filter on the action, the actor or the object: each
filter column leads an index ending in seq (the separate indexes on verb and on actor give way
to them).

A transaction's events are now written together just before it commits (portal/db/backends/
audit_buffer.py), so the head moves from its seq to the last new event's in one UPDATE. The
trigger that allowed only +1 now allows any step forward, to an event that exists with the
head's hash: the head can still never move back, never be deleted, and never point past the
events. On SQLite (development and the demo) the head's trigger checks only that it moves
forward: a trigger there that named the event table would stop every later migration that
rebuilds that table. The SQLite triggers are made again after the table changes (SQLite rebuilds
the table to alter a column, which drops its triggers); SQLITE_FORWARD and SQLITE_REVERSE here
are the current set.
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTGRES_HEAD_FUNCTION = """
CREATE OR REPLACE FUNCTION portal_audit_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit chain head cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'the audit chain head only moves forward (% -> %)', OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM portal_auditevent WHERE seq = NEW.seq AND hash = NEW.hash) THEN
        RAISE EXCEPTION 'the audit chain head must point to an event (#% with its hash)', NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

POSTGRES_HEAD_FUNCTION_BEFORE = """
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
"""

SQLITE_FORWARD = [
    """CREATE TRIGGER portal_auditevent_no_update BEFORE UPDATE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER portal_auditevent_no_delete BEFORE DELETE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;""",
    """CREATE TRIGGER portal_auditchainhead_no_delete BEFORE DELETE ON portal_auditchainhead
       BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END;""",
    """CREATE TRIGGER portal_auditchainhead_forward_only BEFORE UPDATE ON portal_auditchainhead
       WHEN NEW.seq <= OLD.seq
       BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END;""",
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
        schema_editor.execute(POSTGRES_HEAD_FUNCTION, params=None)
    elif vendor == "sqlite":
        for statement in [*SQLITE_REVERSE, *SQLITE_FORWARD]:
            schema_editor.execute(statement)


def drop_sqlite_triggers(apps, schema_editor):
    """Unapplying: SQLite rebuilds the event table back next, which its triggers would not survive."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


def reverse(apps, schema_editor):
    """Run last when unapplying, after SQLite has rebuilt the table back."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_HEAD_FUNCTION_BEFORE, params=None)
    elif vendor == "sqlite":
        before = importlib.import_module("portal.migrations.0002_audit_append_only_triggers")
        for statement in [*SQLITE_REVERSE, *before.SQLITE_FORWARD]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0005_audit_edges"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, reverse),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="verb",
            field=models.CharField(editable=False, max_length=80),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target_type", "seq"], name="audit_target_type_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["verb", "seq"], name="audit_verb_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor", "seq"], name="audit_actor_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor_label", "seq"], name="audit_actor_label_idx"),
        ),
        migrations.RunPython(forward, drop_sqlite_triggers),
    ]
