"""API authentication (the pages' session with CSRF, bearer tokens for systems) and paging.

Kept apart from ``linli.core.api`` because DRF imports these classes from its settings while
it is itself being imported.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions, pagination
from rest_framework.request import Request

from linli.utilities import crypto
from linli.utilities.paging import CappedPaginator


class SessionAuthentication(authentication.SessionAuthentication):
    """Pages' session, with CSRF enforced as for any other form post."""


def user_for_token(raw: str) -> tuple[Any, Any]:
    """The account and token of a raw API token; ``AuthenticationFailed`` when the token is
    unknown, revoked or expired or its account disabled. Also used where a standard puts the
    token elsewhere (Open311's ``api_key``)."""
    from linli.accounts.models import ApiToken

    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=crypto.sm3_hex(raw.encode()), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or (token.expires_at and token.expires_at <= now):
        raise exceptions.AuthenticationFailed(_("The API token is invalid or expired."))
    if not token.user.is_active:
        raise exceptions.AuthenticationFailed(_("The account of this token is disabled."))
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` for systems; tokens are stored only as SM3 hashes."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header.")) from exc
        return user_for_token(raw)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class Pagination(pagination.PageNumberPagination):
    """Counts up to a cap (``count_is_capped`` says when there are more): an exact count over
    a county's million rows would cost more than the page itself."""

    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data: Any) -> Any:
        response = super().get_paginated_response(data)
        assert self.page is not None
        paginator: Any = self.page.paginator
        response.data["count_is_capped"] = paginator.count_is_capped
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count_is_capped"] = {"type": "boolean"}
        return described
