"""The project's one domain error type.

Services raise it when a rule refuses an action; pages show its message, the API answers
with its status (409 by default) and a JSON body naming what is wrong.
"""


class DomainError(Exception):
    status = 409
    code = "conflict"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class TransitionError(DomainError):
    """An action that the object's current state does not allow."""

    code = "illegal_transition"


class NotPermitted(DomainError):
    """The actor may see the object but may not do this to it."""

    status = 403
    code = "forbidden"


class InvalidInput(DomainError):
    """Input that breaks a rule the service checks (field errors included)."""

    status = 400
    code = "invalid"


class RateLimited(DomainError):
    """Too many requests of one kind from one caller; nothing was done."""

    status = 429
    code = "rate_limited"
