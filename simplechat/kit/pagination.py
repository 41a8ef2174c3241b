"""Paged lists: `?page=` (from 1) and `?page_size=` (1-100, default 20) in, `{items, total,
page, page_size}` out.

Routes take `PageQuery` (the parsed parameters) and hand the `PageParams` to their service,
which reads `skip`/`limit`; the route answers `Page[X].of(items, total, params)`.
"""

from dataclasses import dataclass
from typing import Annotated, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Skipping costs the database a scan of what it skips: deep pages are refused, not slow.
MAX_PAGE = 10_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size


async def page_params(
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="Which page, from 1", examples=[1])
    ] = 1,
    page_size: Annotated[
        int,
        Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (1-100)", examples=[20]),
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


PageQuery = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total the whole list holds."""

    items: list[T]
    total: int = Field(description="How many items the whole list holds", examples=[42])
    page: int = Field(examples=[1])
    page_size: int = Field(examples=[20])

    @classmethod
    def of(cls, items: list[T], total: int, params: PageParams) -> Self:
        return cls(items=items, total=total, page=params.page, page_size=params.page_size)
