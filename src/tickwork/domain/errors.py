"""Errors raised by tickwork.

Every error tickwork raises on purpose derives from :class:`TickworkError`. The web API
maps them to HTTP statuses in one exception handler and the CLI maps them to exit code 2
with one line of text, so callers never see a driver exception or a traceback for bad
input::

    TickworkError
    ├── InvalidInputError          bad input; ``field`` names the offending field (422)
    │   ├── InvalidCronError
    │   ├── UnknownTimezoneError
    │   ├── UnknownTaskError
    │   └── PayloadError
    ├── NotFoundError              no such schedule, run, user or token (404)
    ├── ConflictError              the request clashes with the current state (409)
    │   ├── VersionConflictError   optimistic concurrency check failed
    │   ├── DuplicateNameError     a schedule or user with that name exists
    │   └── InvalidTransitionError the status does not allow the action
    ├── CronWalkError              fire times could not be computed (a guard tripped; 500)
    ├── AuthenticationError        no or bad credentials (401)
    ├── PermissionDeniedError      authenticated, but the role does not allow it (403)
    ├── DeliveryError              an alert channel did not take a notification (502)
    └── DatabaseUnavailableError   the database cannot be reached (503)
        └── SchemaNotCurrentError  its schema is missing or old: run ``tickwork migrate``

An error's docstring is its default message.
"""

from __future__ import annotations


class TickworkError(Exception):
    """Something went wrong in tickwork."""

    code = "error"
    status_code = 400

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip().splitlines()[0]
        self.field = field
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        """The error as the API's ``{"code", "message", "field"}`` object."""
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInputError(TickworkError):
    """The input is not valid."""

    code = "invalid_input"
    status_code = 422


class InvalidCronError(InvalidInputError):
    """The cron expression is not valid."""

    code = "invalid_cron"


class UnknownTimezoneError(InvalidInputError):
    """The time zone is not a known IANA zone."""

    code = "unknown_timezone"


class UnknownTaskError(InvalidInputError):
    """No task is registered under that name."""

    code = "unknown_task"


class PayloadError(InvalidInputError):
    """The payload does not match the task's config model."""

    code = "invalid_payload"


class NotFoundError(TickworkError):
    """Not found."""

    code = "not_found"
    status_code = 404


class ConflictError(TickworkError):
    """The request conflicts with the current state."""

    code = "conflict"
    status_code = 409


class VersionConflictError(ConflictError):
    """The schedule was changed by someone else; reload it and try again."""

    code = "version_conflict"


class DuplicateNameError(ConflictError):
    """That name is already taken."""

    code = "duplicate_name"


class InvalidTransitionError(ConflictError):
    """The current status does not allow this action."""

    code = "invalid_transition"


class CronWalkError(TickworkError):
    """The fire times of a cron expression could not be computed."""

    code = "cron_walk_failed"
    status_code = 500


class AuthenticationError(TickworkError):
    """Authentication required."""

    code = "unauthenticated"
    status_code = 401


class PermissionDeniedError(TickworkError):
    """Your role does not allow this action."""

    code = "forbidden"
    status_code = 403


class DeliveryError(TickworkError):
    """The alert channel did not take the notification."""

    code = "delivery_failed"
    status_code = 502


class DatabaseUnavailableError(TickworkError):
    """The database cannot be reached."""

    code = "database_unavailable"
    status_code = 503


class SchemaNotCurrentError(DatabaseUnavailableError):
    """The database has no tickwork schema, or an older one: run 'tickwork migrate'."""

    code = "schema_not_current"
