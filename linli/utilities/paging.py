"""Paging that stays fast at county scale.

An exact COUNT over a county's million people costs hundreds of milliseconds whatever the
index; the first page costs about one. Lists therefore count up to a cap and say "2000+"
beyond it (bench/README.md has the measurements).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 2000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    count_cap = COUNT_CAP

    @cached_property
    def _capped(self) -> tuple[int, bool]:
        object_list: Any = self.object_list
        if hasattr(object_list, "order_by"):
            counted = object_list.order_by()[: self.count_cap + 1].count()
        else:
            counted = len(object_list)
        return min(counted, self.count_cap), counted > self.count_cap

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        return self._capped[0]

    @property
    def count_is_capped(self) -> bool:
        return self._capped[1]
