"""The REST API's shared parts: authentication, pagination, errors, and the gated base viewset.

Errors always come back as ``{"error": {"code": ..., "message": ..., "fields": {...}}}`` with
a stable machine code and a Chinese message, never as a 500 for bad input.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from linli.core.errors import ServiceError


def _error(code: str, message: str, http_status: int, fields: Any = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=http_status)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return _error(exc.code, str(exc.message), exc.status_code, exc.details or None)
    if isinstance(exc, RequestDataTooBig):
        return _error("too_large", _("The request body is too large."), 413)
    if isinstance(exc, exceptions.ParseError | RecursionError):
        # RecursionError: JSON nested deep enough to exhaust the parser's stack.
        return _error("malformed", _("The request body is not valid JSON."), 400)
    if isinstance(exc, exceptions.ValidationError):
        return _error("invalid", _("The submitted data is not valid."), 400, exc.detail)
    if isinstance(exc, DjangoValidationError):
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return _error("invalid", _("The submitted data is not valid."), 400, fields)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return _error("not_found", _("The record does not exist."), 404)
    if isinstance(exc, exceptions.NotAuthenticated):
        return _error("not_authenticated", _("Please log in first."), 401)
    if isinstance(exc, exceptions.AuthenticationFailed):
        return _error("authentication_failed", str(exc.detail), 401)
    if isinstance(exc, PermissionDenied | exceptions.PermissionDenied):
        return _error("permission_denied", _("You do not have permission for this action."), 403)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return _error("method_not_allowed", _("This method is not allowed here."), 405)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _error("unsupported_media_type", _("Send the body as JSON."), 415)
    if isinstance(exc, exceptions.Throttled):
        return _error("throttled", _("Too many requests; try again later."), 429)
    if isinstance(exc, SuspiciousOperation):
        return _error("bad_request", _("The request was refused."), 400)
    if isinstance(exc, exceptions.APIException):
        return _error(exc.default_code, str(exc.detail), exc.status_code)
    return None


class ActionPermission(permissions.BasePermission):
    """Maps the viewset action to a model permission; scope is applied by the queryset."""

    action_perms = {
        "list": "view",
        "retrieve": "view",
        "create": "add",
        "update": "change",
        "partial_update": "change",
        "destroy": "retire",
        "retire": "retire",
        "export": "export",
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        model: type[models.Model] = view.queryset.model
        verb = getattr(view, "action_perm_map", {}).get(view.action) or self.action_perms.get(
            view.action or "", "view"
        )
        opts = model._meta
        return bool(request.user.has_perm(f"{opts.app_label}.{verb}_{opts.model_name}"))


class ScopedViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Base of every API viewset over a model placed in the region tree: rows come only
    through the model's ``visible_to`` gate, so an out-of-scope id answers 404."""

    permission_classes = [permissions.IsAuthenticated, ActionPermission]
    queryset: Any = None

    def get_queryset(self) -> Any:
        assert self.queryset is not None, "declare queryset = Model.objects.all()"
        model: Any = self.queryset.model
        return self.decorate(model.objects.visible_to(self.request.user))

    def decorate(self, queryset: Any) -> Any:
        """Subclasses add select_related / prefetch_related here; never widen the rows."""
        return queryset
