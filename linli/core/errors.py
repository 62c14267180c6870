"""Errors a service refuses with: a stable machine code and a message for the user.

Views turn them into a message on the page, the API into a 4xx JSON body; nothing is written
when one is raised, because services raise before saving, inside their transaction.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class ServiceError(Exception):
    status_code = 400

    def __init__(self, code: str, message: str | Promise, **details: Any) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return str(self.message)


class NotFoundError(ServiceError):
    status_code = 404


class PermissionDeniedError(ServiceError):
    status_code = 403


class ConflictError(ServiceError):
    """Somebody else changed the record first (two people acting at once)."""

    status_code = 409
