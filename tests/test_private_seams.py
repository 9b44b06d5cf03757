"""The private parts of other libraries the shard leans on (docs/layout.md, "Private seams").
Each canary fails, naming the module to revisit, the day its library changes the part; the last
tests hold the doc's list, the canaries and the code's uses equal."""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import io
import re
import tarfile
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy
from fastapi import APIRouter, Depends, Header
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Column, Insert, MetaData, String, Table, event, func, insert, select
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql.elements import ClauseElement
from starlette.requests import Request
from starlette.types import Message

from arkham_shard_packets.bundles.format.archives import ZLIB_COMPRESSOR
from arkham_shard_packets.cli.options import Help
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.inline_sqlite import InlineConnection, connect
from arkham_shard_packets.db.upsert import _SkipDuplicates, breaks, insert_or_skip

from .conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "arkham_shard_packets"
LAYOUT = ROOT / "docs" / "layout.md"

Canary = TypeVar("Canary", bound=Callable[..., Any])
# (module under arkham_shard_packets/, private name) -> the canary watching it
SEAMS: dict[tuple[str, str], str] = {}


def canary(module: str, *names: str) -> Callable[[Canary], Canary]:
    def register(test: Canary) -> Canary:
        for name in names:
            SEAMS[(module, name)] = test.__name__
        return test

    return register


def revisit(module: str, changed: str) -> str:
    return f"{changed}: revisit {PACKAGE}/{module} (docs/layout.md, Private seams)"


# -- zipfile ----------------------------------------------------------------------------------


class RecordingCompressor:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def compress(self, data: bytes) -> bytes:
        self.calls.append("compress")
        return bytes(self.inner.compress(data))

    def flush(self) -> bytes:
        self.calls.append("flush")
        return bytes(self.inner.flush())


@canary("bundles/format/archives.py", "_compressor")
def test_zipfile_deflates_an_entry_through_its_compressor_attribute() -> None:
    where = "bundles/format/archives.py"
    data = b"a line of the harbour ledger\n" * 2000
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("ledger.txt")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as entry:
            current = getattr(entry, "_compressor", None)
            assert isinstance(current, ZLIB_COMPRESSOR), revisit(
                where, f"zipfile's entry writer keeps {type(current).__name__} in _compressor"
            )
            recording = RecordingCompressor(current)
            entry._compressor = recording  # type: ignore[attr-defined]
            entry.write(data)
    assert recording.calls[:1] == ["compress"], revisit(where, "zipfile didn't compress with it")
    assert recording.calls[-1:] == ["flush"], revisit(where, "zipfile didn't flush it")
    with zipfile.ZipFile(out) as archive:
        assert archive.read("ledger.txt") == data, revisit(where, "the entry reads back wrong")


# -- tarfile ----------------------------------------------------------------------------------

LONG_NAME = "bag/data/" + "n" * 150 + ".txt"  # past ustar's 100 characters


def one_member_tar(name: str, data: bytes, form: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=form) as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Refused(Exception):
    pass


@canary("bundles/format/tar_reader.py", "_proc_member")
@pytest.mark.parametrize(
    ("form", "header"),
    [(tarfile.GNU_FORMAT, tarfile.GNUTYPE_LONGNAME), (tarfile.PAX_FORMAT, tarfile.XHDTYPE)],
)
def test_tarfile_shows_proc_member_each_header_before_reading_its_body(
    form: int, header: bytes
) -> None:
    where = "bundles/format/tar_reader.py"
    raw = one_member_tar(LONG_NAME, b"x" * 10, form)
    stated = int(raw[124:135], 8)  # the size field of the first header: its body's
    seen: list[tuple[bytes, int, int]] = []

    class Recording(tarfile.TarInfo):
        def _proc_member(self, archive: Any) -> Any:
            seen.append((self.type, self.size, archive.fileobj.tell()))
            return super()._proc_member(archive)  # type: ignore[misc]

    with tarfile.TarFile(fileobj=io.BytesIO(raw), tarinfo=Recording) as archive:
        assert archive.getnames() == [LONG_NAME], revisit(where, "the long name reads back wrong")
    assert seen[:1] == [(header, stated, tarfile.BLOCKSIZE)], revisit(
        where, f"tarfile no longer calls _proc_member with the {header!r} header, body unread"
    )
    assert [kind for kind, _, _ in seen[1:]] == [tarfile.REGTYPE], revisit(where, f"{seen}")

    class Refusing(tarfile.TarInfo):
        def _proc_member(self, archive: Any) -> Any:
            raise Refused

    with pytest.raises(Refused):  # not turned into a ReadError, nor skipped
        tarfile.TarFile(fileobj=io.BytesIO(raw), tarinfo=Refusing)


# -- Starlette --------------------------------------------------------------------------------


@canary("bodies.py", "_stream_consumed")
async def test_starlette_marks_a_request_whose_body_was_received_to_its_end() -> None:
    where = "bodies.py"
    messages: list[Message] = [
        {"type": "http.request", "body": b"first ", "more_body": True},
        {"type": "http.request", "body": b"second", "more_body": False},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    headers = [(b"content-length", b"12")]
    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    assert getattr(request, "_stream_consumed", None) is False, revisit(
        where, "a new Starlette Request has no _stream_consumed of False"
    )
    begun = request.stream()
    assert await begun.__anext__() == b"first "
    await begun.aclose()
    # Read part way: not consumed, and a new stream reads on (what drained() does).
    assert request._stream_consumed is False, revisit(where, "a body read part way is consumed")
    assert [chunk async for chunk in request.stream()] == [b"second", b""]
    assert request._stream_consumed is True, revisit(where, "a body read whole isn't consumed")
    with pytest.raises(RuntimeError, match="consumed"):
        await request.stream().__anext__()


# -- SQLAlchemy: INSERT ... ON CONFLICT DO NOTHING ------------------------------------------


@canary("db/upsert.py", "_post_values_clause")
async def test_sqlalchemy_renders_an_inserts_post_values_clause_before_returning(
    database_url: str,
) -> None:
    where = "db/upsert.py"
    assert Insert._post_values_clause is None, revisit(where, "Insert has no _post_values_clause")
    table = Table(
        f"seam_canary_{uuid.uuid4().hex[:8]}", MetaData(), Column("name", String, primary_key=True)
    )
    statement = insert_or_skip(table).values(name="a").returning(table.c.name)
    postgres = PGDialect()  # type: ignore[no-untyped-call]
    for dialect in (postgres, SQLiteDialect()):
        sql = " ".join(str(statement.compile(dialect=dialect)).split())
        assert re.search(r"VALUES \(.+\) ON CONFLICT DO NOTHING RETURNING", sql), revisit(
            where, f"{dialect.name} renders {sql!r}"
        )
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.create)
        async with engine.begin() as conn:
            first = (await conn.execute(statement)).scalars().all()
            again = (await conn.execute(statement)).scalars().all()
            count = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
        assert (first, again, count) == (["a"], [], 1), revisit(where, "a duplicate was written")
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(table.drop, checkfirst=True)
        await engine.dispose()


@canary("db/upsert.py", "_traverse_internals")
def test_sqlalchemy_builds_a_custom_clause_s_cache_key_from_traverse_internals() -> None:
    where = "db/upsert.py"

    class Untraversed(ClauseElement):
        __visit_name__ = "untraversed"
        inherit_cache = True

    assert Untraversed()._generate_cache_key() is None, revisit(
        where, "a clause without _traverse_internals is cached: the declaration may go"
    )
    assert _SkipDuplicates()._generate_cache_key() is not None, revisit(
        where, "the ON CONFLICT suffix has no cache key"
    )
    table = Table("t", MetaData(), Column("name", String, primary_key=True))
    first = insert_or_skip(table).values(name="a")._generate_cache_key()
    second = insert_or_skip(table).values(name="b")._generate_cache_key()
    plain = insert(table).values(name="a")._generate_cache_key()
    assert first is not None and second is not None and plain is not None, revisit(
        where, "an insert that skips duplicates has no cache key"
    )
    assert first.key == second.key != plain.key, revisit(where, "its cache key is wrong")


# -- SQLAlchemy's aiosqlite adapter -----------------------------------------------------------

SQLALCHEMY_2_1 = tuple(int(part) for part in sqlalchemy.__version__.split(".")[:2]) >= (2, 1)


class Watched:
    """An inline connection that notes every attribute SQLAlchemy reads of it."""

    def __init__(self, inner: InlineConnection, read: set[str]) -> None:
        self.inner = inner
        self.read = read

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self.inner, name)


def autocommit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy sends BEGIN, as in db/engine.py


def begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


@canary("db/inline_sqlite.py", "_conn", "_tx", "_connection")
async def test_sqlalchemy_reads_only_the_aiosqlite_internals_the_inline_driver_imitates(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "watched.db")
    read: set[str] = set()
    opened: list[InlineConnection] = []

    async def connect_watched() -> Any:
        opened.append(await connect(path))
        return Watched(opened[-1], read)

    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", async_creator=connect_watched)
    event.listen(engine.sync_engine, "connect", autocommit)
    event.listen(engine.sync_engine, "begin", begin)
    table = Table("t", MetaData(), Column("name", String, primary_key=True))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.create)
            await conn.execute(insert(table).values(name="kept"))
        async with engine.connect() as conn:
            await conn.execute(insert(table).values(name="dropped"))
            await conn.rollback()
            names = (await conn.execute(select(table.c.name))).scalars().all()
            assert opened[0].isolation_level is None  # set through _tx, on _conn
            (await conn.get_raw_connection()).invalidate()
    finally:
        await engine.dispose()
    assert names == ["kept"]
    privates = {name for name in read if name.startswith("_")}
    expected = {"_conn", "_tx"} | ({"_connection"} if SQLALCHEMY_2_1 else set())
    assert privates == expected, revisit(
        "db/inline_sqlite.py",
        f"SQLAlchemy {sqlalchemy.__version__} reads {sorted(privates)} of an aiosqlite "
        f"connection, not {sorted(expected)}",
    )


@canary("db/session.py", "autocommit")
async def test_the_asyncpg_adapter_sends_no_begin_while_its_autocommit_is_set() -> None:
    if not POSTGRES_URL:
        pytest.skip("needs PostgreSQL (PACKETS_TEST_DATABASE_URL)")
    where = "db/session.py"
    engine = create_engine(POSTGRES_URL)
    try:
        async with engine.connect() as conn, conn.begin():
            raw = await conn.get_raw_connection()
            adapted, driver = raw.dbapi_connection, raw.driver_connection
            assert adapted is not None and driver is not None
            assert adapted.autocommit is False, revisit(where, "the adapter starts in autocommit")
            adapted.autocommit = True
            await conn.execute(select(1))
            began = driver.is_in_transaction()
            adapted.autocommit = False
            assert not began, revisit(where, "BEGIN was sent while autocommit was set")
            await conn.execute(select(1))
            assert driver.is_in_transaction(), revisit(where, "no BEGIN once autocommit is unset")
    finally:
        await engine.dispose()


@canary("db/upsert.py", "__cause__", "constraint_name")
async def test_the_asyncpg_adapter_raises_asyncpg_s_error_as_its_cause() -> None:
    if not POSTGRES_URL:
        pytest.skip("needs PostgreSQL (PACKETS_TEST_DATABASE_URL)")
    where = "db/upsert.py"
    engine = create_engine(POSTGRES_URL)
    table = f"seam_{uuid.uuid4().hex}"
    try:
        async with engine.connect() as conn:
            await conn.execute(
                sqlalchemy.text(f"CREATE TEMP TABLE {table} (n int CONSTRAINT uq_n UNIQUE)")
            )
            await conn.execute(sqlalchemy.text(f"INSERT INTO {table} VALUES (1)"))
            with pytest.raises(sqlalchemy.exc.IntegrityError) as refused:
                await conn.execute(sqlalchemy.text(f"INSERT INTO {table} VALUES (1)"))
        cause = refused.value.orig.__cause__ if refused.value.orig is not None else None
        named = getattr(cause, "constraint_name", None)
        assert named == "uq_n", revisit(where, f"the adapted error's cause names {named!r}")
        assert breaks(refused.value, "uq_n") and not breaks(refused.value, "uq_other")
    finally:
        await engine.dispose()


# -- argparse ---------------------------------------------------------------------------------


@canary("cli/options.py", "_get_help_string")
def test_argparse_asks_the_formatter_for_each_option_s_help() -> None:
    where = "cli/options.py"
    parameters = list(inspect.signature(argparse.HelpFormatter._get_help_string).parameters)
    assert parameters == ["self", "action"], revisit(where, f"_get_help_string{parameters}")
    parser = argparse.ArgumentParser(prog="canary", formatter_class=Help)
    parser.add_argument("--port", type=int, default=8100, help="the port to listen on")
    parser.add_argument("--quiet", action="store_true", help="say less")
    shown = " ".join(parser.format_help().split())
    assert "the port to listen on (default: 8100)" in shown, revisit(where, shown)
    assert "say less (default" not in shown, revisit(where, shown)


# -- FastAPI ----------------------------------------------------------------------------------


def trace_header(x_trace: str | None = Header(None)) -> str | None:
    return x_trace


class Note(BaseModel):
    text: str


router = APIRouter()


@router.get("/{item}")
def read_item(item: str, q: int = 0, trace: str | None = Depends(trace_header)) -> None:
    return None


@router.get("/")
def read_nothing() -> None:
    return None


@router.post("/")
def write_note(note: Note) -> None:
    return None


@canary("routing.py", "get_flat_params", "dependant", "body_field")
def test_fastapi_lists_a_route_s_parameters_and_its_body_field() -> None:
    where = "routing.py"
    routes = {route.name: route for route in router.routes if isinstance(route, APIRoute)}
    names = sorted(field.name for field in get_flat_params(routes["read_item"].dependant))
    assert names == ["item", "q", "x_trace"], revisit(where, f"parameters {names}")
    assert get_flat_params(routes["read_nothing"].dependant) == [], revisit(where, "parameters")
    assert routes["write_note"].body_field is not None, revisit(where, "no body field")
    assert routes["read_item"].body_field is None, revisit(where, "a body field")


# -- the list, the canaries and the code --------------------------------------------------------

# namedtuple's methods and fields, public with a leading underscore (cli/banner.py calls
# `_replace` on urllib.parse's result)
NAMEDTUPLE_API = {"_replace", "_asdict", "_make", "_fields", "_field_defaults"}
ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}


def private(name: str) -> bool:
    """`_name`; not a `__dunder__` nor an enum's `_sunder_` (public both)."""
    return name.startswith("_") and not name.endswith("_") and name not in NAMEDTUPLE_API


def own(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def overridden(cls: type, node: ast.ClassDef) -> set[str]:
    """The `_names` a class defines or reads through self or cls that one of its bases from
    outside the package defines or declares."""
    names: set[str] = set()
    for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(item.name)
        elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            names.add(item.id)
        elif isinstance(item, ast.Attribute) and own(item.value):
            names.add(item.attr)
    foreign = [base for base in cls.__mro__[1:] if not base.__module__.startswith(PACKAGE)]
    return {
        name
        for name in names
        if private(name)
        and any(name in vars(base) or name in inspect.get_annotations(base) for base in foreign)
    }


def private_uses(tree: ast.Module, namespace: Mapping[str, Any]) -> set[str]:
    """The private names of other objects a module uses: an attribute `x._name` of anything
    but self or cls, `getattr(x, "_name")` (or setattr, hasattr, delattr), and what its
    top-level classes override of a base from outside the package (`namespace`: the
    module's names, for its classes)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and not own(node.value):
            found.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ACCESSORS
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and private(node.args[1].value)
        ):
            found.add(node.args[1].value)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.bases:
            found |= overridden(namespace[node.name], node)
    return found


def uses_in_code() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        module = path.relative_to(ROOT / PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        namespace: Mapping[str, Any] = {}
        if any(isinstance(node, ast.ClassDef) and node.bases for node in tree.body):
            dotted = f"{PACKAGE}.{module.removesuffix('.py').replace('/', '.')}"
            namespace = vars(importlib.import_module(dotted.removesuffix(".__init__")))
        found |= {(module, name) for name in private_uses(tree, namespace)}
    return found


@dataclass(frozen=True)
class Row:
    module: str
    names: tuple[str, ...]
    canaries: tuple[str, ...]


def listed() -> list[Row]:
    """The rows of docs/layout.md's "Private seams" table."""
    _, heading, section = LAYOUT.read_text(encoding="utf-8").partition("\n## Private seams\n")
    assert heading, "docs/layout.md has no 'Private seams' section"
    rows = []
    for line in section.split("\n## ")[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("library", "---"):
            continue
        code = [re.findall(r"`([^`]+)`", cell) for cell in cells]
        assert len(cells) == 6 and len(code[2]) == 1, f"a Private seams row to fix: {line}"
        names = tuple(part.rsplit(".", 1)[-1] for part in code[1])
        rows.append(Row(code[2][0], names, tuple(code[4])))
    return rows


def test_every_private_use_in_the_code_is_on_the_list() -> None:
    on_the_list = {(row.module, name) for row in listed() for name in row.names}
    unlisted = sorted(uses_in_code() - on_the_list)
    assert unlisted == [], (
        "private names of other objects, not in docs/layout.md's Private seams: list each with "
        "why, a canary in tests/test_private_seams.py and when it can go (or, if the object is "
        f"the shard's own, give the name no underscore): {unlisted}"
    )


def test_every_listed_seam_is_still_used() -> None:
    gone = []
    for row in listed():
        source = (ROOT / PACKAGE / row.module).read_text(encoding="utf-8")
        gone += [
            (row.module, name)
            for name in row.names
            if not re.search(rf"\b{re.escape(name)}\b", source)
        ]
    assert gone == [], f"listed in docs/layout.md's Private seams, no longer used: {gone}"


def test_every_listed_seam_has_its_canary_and_every_canary_a_row() -> None:
    documented = {(row.module, name): row.canaries for row in listed() for name in row.names}
    registered = {seam: (test,) for seam, test in SEAMS.items()}
    assert documented == registered, (
        "docs/layout.md's Private seams and the canaries here differ: listed "
        f"{sorted(documented.items() - registered.items())}, "
        f"registered {sorted(registered.items() - documented.items())}"
    )


def test_the_scan_sees_each_kind_of_private_use() -> None:
    probe = (
        "import tarfile, zipfile\n"
        "class Bounded(tarfile.TarInfo):\n"
        "    def _proc_member(self, archive):\n"
        "        return super()._proc_member(archive) and self._own_step()\n"
        "    def _own_step(self):\n"
        "        return self.offset_data\n"
        "def swap(entry, request, parts):\n"
        "    entry._compressor = None\n"
        "    parts = parts._replace(netloc='')\n"
        "    return getattr(request, '_stream_consumed', True), getattr(entry, '__dict__')\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(probe, "probe", "exec"), namespace)
    found = private_uses(ast.parse(probe), namespace)
    assert found == {"_proc_member", "_compressor", "_stream_consumed"}
