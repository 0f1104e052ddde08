"""The demand warehouse through SQLAlchemy: SQLite by default, PostgreSQL when DATABASE_URL says so.

One fact table, `demand_weekly`, keyed by (week_end_date, store_id, product_id). Loading is an
upsert on that key (INSERT ... ON CONFLICT DO UPDATE, both dialects), so a re-run neither duplicates
nor loses rows, and a corrected source row replaces the old one. Training reads back from here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import (Column, Date, Float, Integer, MetaData, SmallInteger, String, Table, create_engine, func,
                        select, text)
from sqlalchemy.engine import Engine

from services.common.config import PROJECT_ROOT

DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'demand' / 'warehouse.db'}"
TABLE = "demand_weekly"
CHUNK = 1000


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def _table(metadata: MetaData) -> Table:
    return Table(
        TABLE, metadata,
        Column("week_end_date", Date, primary_key=True),
        Column("store_id", String(16), primary_key=True),
        Column("product_id", String(16), primary_key=True),
        Column("manufacturer", String(64), nullable=False),
        Column("base_price", Float, nullable=False),
        Column("price", Float, nullable=False),
        Column("display", SmallInteger, nullable=False),
        Column("feature", SmallInteger, nullable=False),
        Column("tpr", SmallInteger, nullable=False),
        Column("units", Integer, nullable=False),
    )


@dataclass
class LoadResult:
    rows_in_file: int
    before: int
    after: int

    @property
    def inserted(self) -> int:
        return self.after - self.before

    @property
    def updated_or_unchanged(self) -> int:
        return self.rows_in_file - self.inserted


class Warehouse:
    """The fact table in one database (and optionally one PostgreSQL schema)."""

    def __init__(self, url: str | None = None, schema: str | None = None):
        self.url = database_url(url)
        self.schema = schema
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, future=True, pool_pre_ping=True)
        self.metadata = MetaData(schema=schema)
        self.table = _table(self.metadata)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create(self) -> None:
        with self.engine.begin() as conn:
            if self.schema and self.dialect == "postgresql":
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            self.metadata.create_all(conn)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def _insert(self):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            raise RuntimeError(f"warehouse supports sqlite and postgresql, not {self.dialect}")
        stmt = insert(self.table)
        keys = {c.name for c in self.table.primary_key.columns}
        return stmt.on_conflict_do_update(
            index_elements=[self.table.c[k] for k in sorted(keys)],
            set_={c.name: stmt.excluded[c.name] for c in self.table.columns if c.name not in keys},
        )

    def load(self, frame: pd.DataFrame, progress=None) -> LoadResult:
        """Upsert the validated rows in one transaction; returns the counts before and after."""
        self.create()
        before = self.count()
        records = [
            {"week_end_date": r.week_end_date, "store_id": str(r.store_id), "product_id": str(r.product_id),
             "manufacturer": str(r.manufacturer), "base_price": float(r.base_price), "price": float(r.price),
             "display": int(r.display), "feature": int(r.feature), "tpr": int(r.tpr), "units": int(r.units)}
            for r in frame.itertuples(index=False)
        ]
        stmt = self._insert()
        with self.engine.begin() as conn:
            for start in range(0, len(records), CHUNK):
                conn.execute(stmt, records[start:start + CHUNK])
                if progress is not None:
                    progress.update(min(CHUNK, len(records) - start))
        return LoadResult(len(records), before, self.count())

    def read(self) -> pd.DataFrame:
        """Every row, ordered by the key (so training is reproducible whatever the load order)."""
        query = select(self.table).order_by(self.table.c.week_end_date, self.table.c.store_id,
                                            self.table.c.product_id)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all())
        if frame.empty:
            return frame
        frame["week_end_date"] = pd.to_datetime(frame["week_end_date"])
        return frame

    def drop(self) -> None:
        """Drop the table (and the schema, for a PostgreSQL test schema)."""
        with self.engine.begin() as conn:
            if self.schema and self.dialect == "postgresql":
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            else:
                self.table.drop(conn, checkfirst=True)

    def dispose(self) -> None:
        self.engine.dispose()
