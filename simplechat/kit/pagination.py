"""The one way lists are paged: `?page=1&page_size=20` in, `{items, total, page, page_size}` out.

Routes take `PageQuery` (the validated parameters), services return `Paged[T]` (the domain
items and the total), and routes answer `Page[Schema]`, mapping each item:

    async def list_things(page: PageQuery, ...) -> Page[ThingPublic]:
        found = await things.list(page)
        return Page.of(found, ThingPublic.from_domain)
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_PAGE = 100_000  # keeps skip within what every server takes

T = TypeVar("T")
S = TypeVar("S")


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


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    """One page of domain items and how many there are in all."""

    items: Sequence[T]
    total: int
    params: PageParams


def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (1-{MAX_PAGE_SIZE})")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


PageQuery = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """A page of a list."""

    items: list[T]
    total: int = Field(description="Items in the whole list", examples=[42])
    page: int = Field(examples=[1])
    page_size: int = Field(examples=[20])

    @classmethod
    def of(cls, found: Paged[S], to_item: Callable[[S], T]) -> "Page[T]":
        return cls(
            items=[to_item(item) for item in found.items],
            total=found.total,
            page=found.params.page,
            page_size=found.params.page_size,
        )
