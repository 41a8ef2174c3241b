"""The one pagination helper: parameters, skip, and the page it answers."""

import pytest

from simplechat.kit.pagination import Page, Paged, PageParams


@pytest.mark.parametrize(
    ("page", "size", "skip"), [(1, 20, 0), (2, 20, 20), (3, 7, 14), (100, 100, 9900)]
)
def test_skip(page: int, size: int, skip: int) -> None:
    params = PageParams(page=page, page_size=size)
    assert (params.skip, params.limit) == (skip, size)


def test_page_maps_items_and_keeps_the_counts() -> None:
    found = Paged(items=[1, 2, 3], total=13, params=PageParams(page=2, page_size=3))
    page = Page[str].of(found, lambda n: f"#{n}")
    assert page.model_dump() == {
        "items": ["#1", "#2", "#3"],
        "total": 13,
        "page": 2,
        "page_size": 3,
    }
