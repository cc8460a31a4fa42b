"""Hold a transaction's audit events until it commits, so the chain head is locked last and briefly.

`portal.services.audit.audit_record` appends an unsaved event to `connection.audit_pending`.
Immediately before the outermost transaction commits, `commit()` writes them in one step
(`portal.services.audit.audit_write`: lock the head row, insert the events chained after it,
move the head) and COMMIT follows at once. The head's lock is therefore held only for those
statements and the commit, not for whatever the caller does after recording (rendering
e-mails, more writes, a whole import).

The events share the fate of the transaction: a rollback, or a closed connection, discards
them; rolling back to a savepoint discards the events recorded since that savepoint.

Tests that run inside Django's test-case transaction never commit: there the events are
written when the outermost block that is not the test case's own ends (the same test case
blocks that Django's `durable` check looks through), so a test sees its events as soon as the
service that recorded them returns, as the product does. (A block opened with savepoint=False
right under the test case's own has no savepoint to release: its events are written when the
next block that has one ends. No portal code opens such a block.)
"""

import contextlib


def _from_testcase(block) -> bool:
    return getattr(block, "_from_testcase", False)


class AuditBufferMixin:
    """Mixed into a backend's DatabaseWrapper (see the postgresql and sqlite3 packages beside this file)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.audit_pending = []  # unsaved portal.models.AuditEvent, in the order they were recorded
        self._audit_marks = {}  # savepoint id -> len(audit_pending) when it was taken

    # --- what audit_record asks ---------------------------------------------------------------

    def audit_in_transaction(self) -> bool:
        """True inside an atomic block that commits later (one that is not a test case's own)."""
        return any(not _from_testcase(block) for block in self.atomic_blocks)

    def audit_flush(self) -> None:
        """Write the pending events now, in the current transaction; they stay pending if it fails."""
        if not self.audit_pending:
            return
        from portal.services.audit import audit_write

        audit_write(self, self.audit_pending)
        self.audit_pending = []
        # What was pending is now in the database, inside every open savepoint: rolling one
        # back removes those rows, and there is nothing left to discard here.
        self._audit_marks = dict.fromkeys(self._audit_marks, 0)

    def _audit_discard(self) -> None:
        self.audit_pending = []
        self._audit_marks = {}

    # --- transaction control ------------------------------------------------------------------

    def commit(self):
        if self.audit_pending:
            self.validate_no_atomic_block()
            try:
                self.audit_flush()
            except BaseException:
                # Never the change without its event: roll back before the caller sees the error
                # (Atomic rolls back itself only on a DatabaseError).
                self._audit_discard()
                with contextlib.suppress(Exception):
                    self.rollback()
                raise
        super().commit()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._audit_discard()

    def close(self):
        try:
            super().close()
        finally:
            self._audit_discard()  # an open transaction is lost with its connection

    def savepoint(self):
        sid = super().savepoint()
        if sid is not None:
            self._audit_marks[sid] = len(self.audit_pending)
        return sid

    def savepoint_rollback(self, sid):
        super().savepoint_rollback(sid)
        mark = self._audit_marks.get(sid)
        if mark is not None:
            del self.audit_pending[mark:]

    def savepoint_commit(self, sid):
        if self.audit_pending and self.atomic_blocks and all(_from_testcase(b) for b in self.atomic_blocks):
            self.audit_flush()  # inside the savepoint: if writing fails, rolling it back undoes the block
        super().savepoint_commit(sid)
        self._audit_marks.pop(sid, None)
