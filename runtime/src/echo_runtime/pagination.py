"""Every list is paginated: `?limit=&offset=`, answered as a `Page`."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from echo_runtime.inputs import MAX_INT32

T = TypeVar("T")

MAX_PAGE = 200


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(  # a coroutine: FastAPI runs plain functions in a worker thread
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT32, description="items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None = None

    @classmethod
    def of(cls, items: list[T], total: int, params: PageParams) -> Page[T]:
        nxt = params.offset + len(items)
        return cls(
            items=items,
            total=total,
            limit=params.limit,
            offset=params.offset,
            next_offset=nxt if nxt < total else None,
        )
