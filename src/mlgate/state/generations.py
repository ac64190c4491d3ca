"""Alias generations: a counter per registered model, bumped whenever mlgate moves one of its aliases.

Replicas keep the answer of ``name@production`` instead of asking the registry on every call.
Every promotion, rollback, demotion or archive made through any replica bumps the model's
generation here; each replica reads the whole (small) table with its halt poll and forgets
the alias answers of every model whose generation moved. Changes made outside mlgate (a
plain ``MlflowClient.set_registered_model_alias``) leave no trace here: replicas follow them
when their answer expires (``MLGATE_ALIAS_TTL_MS``).

``GenerationStore(db)`` adds the ``alias_generations`` table to a ``StateDB`` (created on open
if missing, in the same write-locked way) and uses its engine. Portable SQL only (SQLite and
PostgreSQL). Every method blocks on I/O: call it from a worker thread in async code.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlgate.clock import utcnow
from mlgate.state.db import StateDB, printable

metadata = sa.MetaData()
alias_generations = sa.Table(
    "alias_generations",
    metadata,
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("moved_at", sa.String(40), nullable=False),
    sa.Column("moved_by", sa.String(255), nullable=False),
)


class GenerationStore:
    """The alias generations of one state database."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.create_tables(metadata)

    def bump(self, name: str, by: str) -> int:
        """Count one more move of ``name``'s aliases; the new generation (1 for the first move).

        The write lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock) serialises
        concurrent bumps, so two replicas never both insert the first row of a name."""
        values = {"moved_at": utcnow(), "moved_by": printable(by)[:255]}
        row = alias_generations.c
        with self.db.write(lock=True) as conn:
            updated = conn.execute(
                alias_generations.update()
                .where(row.name == name)
                .values(generation=row.generation + 1, **values)
            )
            if updated.rowcount == 0:
                conn.execute(alias_generations.insert().values(name=name, generation=1, **values))
            found: int = conn.execute(sa.select(row.generation).where(row.name == name)).scalar_one()
        return int(found)

    def read(self) -> dict[str, int]:
        """Every model's generation (models whose aliases mlgate never moved are absent)."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(alias_generations)).mappings()
            return {str(r["name"]): int(r["generation"]) for r in rows}
