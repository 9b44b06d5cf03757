"""Events that are never lost: written to the outbox in the transaction of the change they
describe, placed in the feed, then handed to the Frame's bus (events/relay.py).

Writing (`append`) takes no lock shared with other writers on PostgreSQL: an event is written
in the order of its `sequence` key, without a place in the feed. Placing (`place`) gives
committed events without one the next `position`s in one statement; the placers of several
processes take turns under an advisory lock only they take, so each turn commits one block of
positions above every earlier block, and a reader of the feed never sees a position before
every lower one is visible. On SQLite, whose writers hold its one write lock from BEGIN to
COMMIT, the writer places its own events before it commits.

Placing is for the feed; the bus does not wait for it. An event names the relay that hands it
to the bus (`relay`): the writing process's own, which gets the event as its transaction
commits; or none, when its process has no relay (the offline CLI), and then the first relay
to claim it (`claim_unrelayed`) delivers it. `mark_delivered` records what the bus took."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache, partial
from typing import Any, cast

from sqlalchemy import bindparam, func, insert, literal, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.clock import now_text, to_text
from ..core.unit_of_work import Event
from ..db.at_lock import Formatted, has_values_from_lock, template
from ..db.row_inserts import (
    Derive,
    RowLock,
    RowWrite,
    Shape,
    named_insert,
    named_locked_insert,
    named_values,
    named_write,
)
from ..db.session import Database, alone
from ..db.tables import outbox
from ..models import utcnow

PLACER_LOCK_KEY = 0x7061636B657473  # "packets"; written out in migration 0010's function
BATCH = 500


@dataclass(frozen=True)
class Placed:
    """An event as the bus gets it, with its place in the feed once it has one."""

    sequence: int
    position: int | None
    event_type: str
    payload: str  # JSON


async def append(
    conn: AsyncConnection,
    tenant_id: str | None,
    events: Sequence[Event],
    relay: str | None,
    before: Sequence[RowWrite] = (),
) -> list[Placed]:
    """Writes the events in the caller's transaction, to be handed to the bus by `relay`, and
    returns them; `before`, rows of the transaction written with them (on PostgreSQL, in the
    same statement). On SQLite that transaction holds the database's only write lock until it
    commits, so positions handed out in it follow commit order: they are placed here."""
    postgres = conn.dialect.name == "postgresql"
    if postgres and before:
        return await _append_with(conn, tenant_id, events, relay, before)
    for row in before:
        await row.execute(conn)
    if not events:
        return []
    rows = _rows(tenant_id, events, relay)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and len(rows) == 1:
        # the common case in one statement: the event written in its place
        return [Placed(*(await conn.execute(WRITTEN_IN_PLACE, rows[0])).one())]
    if not sqlite:
        async with alone(conn):
            written = await conn.execute(insert(outbox).returning(*PLACED_COLUMNS), rows)
        return _in_sequence(written)
    await conn.execute(insert(outbox), rows)
    placed: list[Placed] = []
    while True:
        batch = await _place_in(conn)
        placed += batch
        if len(batch) < BATCH:
            return placed


def _rows(
    tenant_id: str | None, events: Sequence[Event], relay: str | None
) -> list[dict[str, Any]]:
    now = now_text()
    return [
        _row(tenant_id, event, relay, now, json.dumps(event.payload, sort_keys=True))
        for event in events
    ]


def _row(
    tenant_id: str | None, event: Event, relay: str | None, now: str, payload: str
) -> dict[str, Any]:
    return {
        "event_type": event.event_type,
        "payload": payload,
        "created_at": now,
        "tenant_id": tenant_id,
        "relay": relay,
    }


def _row_at_lock(
    tenant_id: str | None, event: Event, relay: str | None
) -> tuple[dict[str, Any], tuple[tuple[str, Derive], ...]]:
    """An event written by a lock's statement, and its columns computed there: its payload,
    when values in it are the locked row's (its JSON finished in SQL, db/at_lock.py)."""
    if not has_values_from_lock(event.payload):
        return _rows(tenant_id, [event], relay)[0], ()
    text, values = template(partial(json.dumps, sort_keys=True), event.payload)
    return _row(tenant_id, event, relay, now_text(), text), (
        ("payload", Formatted("payload", values)),
    )


async def _append_with(
    conn: AsyncConnection,
    tenant_id: str | None,
    events: Sequence[Event],
    relay: str | None,
    before: Sequence[RowWrite],
) -> list[Placed]:
    """PostgreSQL: the writes `before` as data-modifying WITH clauses of the statement that
    writes the events (or of a bare SELECT): one round trip for all of them, and the only one
    of a unit of work that sent nothing before it (db/session.py's `alone`). The statement is
    built once for each shape of a unit of work (db/row_inserts.py), the values its
    parameters."""
    shape = tuple(row.shape for row in before)
    parameters: dict[str, Any] = {}
    for n, row in enumerate(before):
        parameters |= row.parameters(f"w{n}")
    if isinstance(before[0], RowLock):
        return await _append_locked(conn, before[0], shape, parameters, tenant_id, events, relay)
    rows = _rows(tenant_id, events, relay)
    if len(rows) > 1:
        # a list of rows: one VALUES of its own length, built for this call
        clauses = _clauses(shape)
        statement = insert(outbox).values(rows).returning(*PLACED_COLUMNS).add_cte(*clauses)
    elif rows:
        parameters |= named_values("e", rows[0])
        statement = _statement_with(shape, tuple(rows[0]))
    else:
        statement = _statement_with(shape, ())
    async with alone(conn):
        written = await conn.execute(statement, parameters)
    return _in_sequence(written) if rows else []


def _clauses(shape: tuple[Shape, ...]) -> list[Any]:
    return [cast(Any, named_write(f"w{n}", write)).cte(f"w{n}") for n, write in enumerate(shape)]


@lru_cache(maxsize=128)
def _statement_with(shape: tuple[Shape, ...], event_columns: tuple[str, ...]) -> Any:
    """The writes of `shape` as WITH clauses of the insert of one event of `event_columns`
    (parameters `e_<column>`), or of a bare SELECT without them."""
    clauses = _clauses(shape)
    if not event_columns:
        return select(literal(1)).add_cte(*clauses)
    event = named_insert("e", outbox, event_columns)
    return event.returning(*PLACED_COLUMNS).add_cte(*clauses)


async def _append_locked(
    conn: AsyncConnection,
    lock: RowLock,
    shape: tuple[Shape, ...],
    parameters: dict[str, Any],
    tenant_id: str | None,
    events: Sequence[Event],
    relay: str | None,
) -> list[Placed]:
    """The statement of a lock and the writes that hang on it (at most one event, which hangs
    on it too): one row, the locked row's columns and the event's, or none."""
    if len(events) > 1:
        raise ValueError("a work that locks at commit records one event at most")
    columns: tuple[str, ...] = ()
    derived: tuple[tuple[str, Derive], ...] = ()
    if events:
        row, derived = _row_at_lock(tenant_id, events[0], relay)
        parameters |= named_values("e", row)
        columns = tuple(row)
    statement = _locked_with(shape, columns, derived)
    async with alone(conn):
        found = (await conn.execute(statement, parameters)).mappings().first()
    if found is None:
        return []
    lock.found = found
    if not events:
        return []
    return [Placed(*(found[f"e_{column.name}"] for column in PLACED_COLUMNS))]


@lru_cache(maxsize=64)
def _locked_with(
    shape: tuple[Shape, ...],
    event_columns: tuple[str, ...],
    derived: tuple[tuple[str, Derive], ...] = (),
) -> Any:
    """The writes of `shape`, the first a lock (its clause `w0`, db/row_inserts.py's LOCK) and
    the event of `event_columns` hanging on it (`derived`: its columns computed from the
    locked row); the locked row, with the event's PLACED_COLUMNS as `e_<column>`."""
    clauses = _clauses(shape)
    lock = clauses[0]
    if not event_columns:
        return select(lock).add_cte(*clauses)
    inserted = named_locked_insert("e", outbox, event_columns, derived)
    event = inserted.returning(*PLACED_COLUMNS).cte("e")
    placed = [event.c[column.name].label(f"e_{column.name}") for column in PLACED_COLUMNS]
    return select(lock, *placed).select_from(lock.join(event, true())).add_cte(*clauses, event)


PLACED_COLUMNS = (outbox.c.sequence, outbox.c.position, outbox.c.event_type, outbox.c.payload)


def _in_sequence(rows: Iterable[Any]) -> list[Placed]:
    """Rows of PLACED_COLUMNS as events, in the order they were written."""
    return sorted((Placed(*row) for row in rows), key=lambda event: event.sequence)


NEXT_POSITION = select(func.coalesce(func.max(outbox.c.position), 0) + 1).scalar_subquery()
# SQLite: one event written in its place, its values the parameters
WRITTEN_IN_PLACE = insert(outbox).values(position=NEXT_POSITION).returning(*PLACED_COLUMNS)


def _placing() -> Any:
    """One UPDATE: the oldest unplaced events get the positions after the highest one."""
    waiting = (
        select(
            outbox.c.sequence,
            func.row_number().over(order_by=outbox.c.sequence).label("n"),
        )
        .where(outbox.c.position.is_(None))
        .order_by(outbox.c.sequence)
        .limit(BATCH)
        .subquery()
    )
    top = select(func.coalesce(func.max(outbox.c.position), 0)).scalar_subquery()
    return (
        update(outbox)
        .where(outbox.c.sequence == waiting.c.sequence)
        .values(position=top + waiting.c.n)
        .returning(*PLACED_COLUMNS)
    )


PLACING = _placing()  # built once: building it took longer than running it


# PostgreSQL: the placing statement after PLACER_LOCK_KEY is taken, in one call (a function of
# migration 0010: each of its statements sees what committed before it ran).
PLACING_CALL = text("SELECT * FROM arkham_packet_outbox_place(:batch)").bindparams(batch=BATCH)


async def place(database: Database) -> list[Placed]:
    """Places every committed event without a position; what was placed, in feed order."""
    placed: list[Placed] = []
    while True:
        async with database.autocommit() as conn:
            if database.dialect == "postgresql":
                batch = _in_sequence(await conn.execute(PLACING_CALL))
            else:
                batch = await _place_in(conn)
        placed += batch
        if len(batch) < BATCH:
            return placed


async def _place_in(conn: AsyncConnection) -> list[Placed]:
    return _in_sequence(await conn.execute(PLACING))


async def claim_unrelayed(database: Database, relay: str) -> list[Placed]:
    """Placed events written without a relay (by the offline CLI), not yet delivered, claimed
    for `relay` in one statement: no two relays claim the same event."""
    claimable = (
        select(outbox.c.sequence)
        .where(
            outbox.c.relay.is_(None),
            outbox.c.position.is_not(None),
            outbox.c.delivered_at.is_(None),
        )
        .order_by(outbox.c.position)
        .limit(BATCH)
        .scalar_subquery()
    )
    claiming = (
        update(outbox)
        .where(outbox.c.sequence.in_(claimable), outbox.c.relay.is_(None))
        .values(relay=relay)
        .returning(*PLACED_COLUMNS)
    )
    async with database.autocommit() as conn:
        return _in_sequence(await conn.execute(claiming))


async def has_unplaced(database: Database) -> bool:
    statement = select(outbox.c.sequence).where(outbox.c.position.is_(None)).limit(1)
    async with database.reading() as conn:
        return (await conn.execute(statement)).first() is not None


async def undelivered(
    database: Database, *, older_than: timedelta | None, besides: Collection[int]
) -> list[Placed]:
    """Placed events no one has marked delivered (written more than `older_than` ago), in
    feed order, but for `besides`."""
    statement = (
        select(*PLACED_COLUMNS)
        .where(outbox.c.position.is_not(None), outbox.c.delivered_at.is_(None))
        .order_by(outbox.c.position)
        .limit(BATCH + len(besides))
    )
    if older_than is not None:
        statement = statement.where(outbox.c.created_at < to_text(utcnow() - older_than))
    async with database.reading() as conn:
        rows = (await conn.execute(statement)).all()
    return [Placed(*row) for row in rows if row.sequence not in besides][:BATCH]


async def mark_delivered(database: Database, taken: Mapping[int, str]) -> None:
    """Marks events delivered: `taken` maps each one's sequence to when the bus took it."""
    statement = (
        update(outbox)
        .where(outbox.c.sequence == bindparam("taken_sequence"))
        .values(delivered_at=bindparam("taken_at"))
    )
    params = [{"taken_sequence": seq, "taken_at": at} for seq, at in taken.items()]
    async with database.autocommit() as conn:
        await conn.execute(statement, params)


async def count_attempt(database: Database, sequence: int) -> None:
    async with database.autocommit() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.sequence == sequence)
            .values(attempts=outbox.c.attempts + 1)
        )


async def pending(database: Database) -> int:
    async with database.reading() as conn:
        statement = select(func.count()).where(outbox.c.delivered_at.is_(None))
        return int((await conn.execute(statement)).scalar_one())
