"""PostgreSQL, with a transaction's audit events written just before it commits."""

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper

from portal.db.backends.audit_buffer import AuditBufferMixin


class DatabaseWrapper(AuditBufferMixin, PostgresWrapper):
    pass
