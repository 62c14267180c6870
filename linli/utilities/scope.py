"""The one access gate: rows of every model placed in the region tree are restricted to the
union of the user's region subtrees, and to the actions their roles allow.

Region codes are hierarchical (county 370124 → subdistrict 370124001 → community
370124001001 → grid 370124001001001), so the code is itself the materialised path: a subtree
is "codes starting with the node's code", queried as an index-backed range.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any, Self

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from linli.accounts.models import User


def subtree_q(path: str, code: str) -> Q:
    """Rows whose region code is ``code`` or extends it, as a range a B-tree index can serve.

    The range alone admits only strings that start with ``code`` (all codes are digits), and
    the ``startswith`` keeps the predicate exact for any odd value without losing the index.
    """
    upper = str(int(code) + 1).zfill(len(code))
    q = Q(**{f"{path}__gte": code}) & Q(**{f"{path}__startswith": code})
    if len(upper) == len(code):
        q &= Q(**{f"{path}__lt": upper})
    return q


def normalise_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """Drop codes that lie inside another code of the set (a county covers its communities)."""
    kept: list[str] = []
    for code in sorted(set(codes), key=lambda c: (len(c), c)):
        if not any(code.startswith(outer) for outer in kept):
            kept.append(code)
    return tuple(sorted(kept))


def code_in_scope(code: str, scope: Iterable[str]) -> bool:
    return any(code.startswith(outer) for outer in scope)


class ScopedQuerySet(models.QuerySet[Any]):
    """Base queryset of every model placed in the region tree.

    The model names the path to its region code in ``scope_path`` (``"region__code"`` by
    default, ``"code"`` for the region tree itself).
    """

    def scope_path(self) -> str:
        return str(getattr(self.model, "scope_path", "region__code"))

    def within(self, codes: Iterable[str]) -> Self:
        codes = normalise_codes(codes)
        if not codes:
            return self.none()
        path = self.scope_path()
        return self.filter(reduce(or_, (subtree_q(path, code) for code in codes)))

    def visible_to(self, user: User | AnonymousUser, action: str = "view") -> Self:
        """The gate: rows in the user's scope, and none if the role does not allow ``action``."""
        if not user.is_authenticated:
            return self.none()
        opts = self.model._meta
        if not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
            return self.none()
        return self.within(user.scope_codes())  # type: ignore[union-attr]
