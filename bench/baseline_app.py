"""The ingest baseline: a bare FastAPI endpoint that validates a body and does one INSERT.

`python -m bench.baseline_app --port P --database postgresql://...`: uvicorn (uvloop, one worker,
no access log), an asyncpg pool, no auth, no outbox, no ORM.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request, status
from pydantic import BaseModel, ConfigDict, Field

DDL = """CREATE TABLE IF NOT EXISTS bench_items (
    id uuid PRIMARY KEY, programme_id uuid NOT NULL, body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())"""


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programme_id: uuid.UUID
    fields: dict[str, str] = Field(max_length=40)


def create_app(dsn: str, pool_size: int = 10) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=pool_size)
        await pool.execute(DDL)
        app.state.pool = pool
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/items", status_code=status.HTTP_201_CREATED)
    async def post_item(body: ItemIn, request: Request) -> dict[str, Any]:
        item_id = uuid.uuid4()
        pool: asyncpg.Pool = request.app.state.pool
        await pool.execute(
            "INSERT INTO bench_items (id, programme_id, body) VALUES ($1, $2, $3)",
            item_id,
            body.programme_id,
            json.dumps(body.fields),
        )
        return {"id": str(item_id)}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="postgresql://... (asyncpg DSN)")
    args = parser.parse_args()
    dsn = args.database.replace("postgresql+asyncpg://", "postgresql://", 1)
    uvicorn.run(
        create_app(dsn),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
