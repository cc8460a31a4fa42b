"""Database backends that write the audit events of a transaction just before it commits.

`portal.settings` names them in ENGINE in place of Django's own (`DATABASE_ENGINES`); see
`portal.db.backends.audit_buffer.AuditBufferMixin`.
"""
