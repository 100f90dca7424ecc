"""One pagination for every API list: ?page=1&page_size=50 → {count, page, page_size, items}."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase

MAX_PAGE_SIZE = 500


class PageNumber(PaginationBase):
    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)

    class Output(Schema):
        count: int
        page: int
        page_size: int
        items: list[Any]

    items_attribute = "items"

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        offset = (pagination.page - 1) * pagination.page_size
        return {
            "count": queryset.count(),
            "page": pagination.page,
            "page_size": pagination.page_size,
            "items": list(queryset[offset : offset + pagination.page_size]),
        }
