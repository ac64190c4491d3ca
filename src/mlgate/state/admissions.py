"""Operator admissions: which exact artifact of a version may run code when it is loaded.

A row says "operator X admitted version N of model M whose artifact digest is D, at T".
Only the state database holds them (not the MLflow registry, which other teams write):
whoever can tag a registry version cannot admit it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mlgate.clock import utcnow
from mlgate.state.db import StateDB, metadata

admissions = sa.Table(
    "admissions",
    metadata,
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("by", sa.String(300), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("note", sa.String(1000), nullable=False, default=""),
)


@dataclass(frozen=True, slots=True)
class Admission:
    name: str
    version: int
    digest: str
    by: str
    at: str
    note: str = ""


class AdmissionBook:
    def __init__(self, db: StateDB) -> None:
        self.db = db
        with db.write(lock=True) as conn:  # the table may predate this module in an older database
            admissions.create(conn, checkfirst=True)

    def admit(self, name: str, version: int, digest: str, by: str, note: str = "") -> Admission:
        row = Admission(name, version, digest, _printable(by)[:300], utcnow(), _printable(note)[:1000])
        with self.db.write() as conn:
            conn.execute(
                admissions.delete().where(admissions.c.name == name, admissions.c.version == version)
            )
            conn.execute(
                admissions.insert().values(
                    name=row.name, version=row.version, digest=row.digest, by=row.by, at=row.at, note=row.note
                )
            )
        return row

    def get(self, name: str, version: int) -> Admission | None:
        query = sa.select(admissions).where(admissions.c.name == name, admissions.c.version == version)
        rows = self.db.rows(query)
        return Admission(**dict(rows[0])) if rows else None

    def revoke(self, name: str, version: int) -> bool:
        with self.db.write() as conn:
            done = conn.execute(
                admissions.delete().where(admissions.c.name == name, admissions.c.version == version)
            )
        return bool(done.rowcount)


def _printable(text: str) -> str:
    """One line of visible text: an artifact's type names cannot forge lines in a terminal."""
    return "".join(c if c.isprintable() else "?" for c in text)
