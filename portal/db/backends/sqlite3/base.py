"""SQLite, with a transaction's audit events written just before it commits."""

from django.db.backends.sqlite3.base import DatabaseWrapper as SqliteWrapper

from portal.db.backends.audit_buffer import AuditBufferMixin


class DatabaseWrapper(AuditBufferMixin, SqliteWrapper):
    pass
