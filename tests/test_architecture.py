"""The package's import graph, read from the source: no cycle between modules or between
packages, and every arrow pointing the way the layout says (routes -> service -> core/db; the
wiring, the shard, the host and the CLI above every domain; the Frame only behind frame/ and
host/). Imports under `if TYPE_CHECKING:` are for the type checker only and are not counted.
And one owner of transactions: only `Transactions` begins a unit of work, and the few modules
below or beside it that open a connection of their own are listed with why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = "arkham_shard_packets"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# What the bottom of the package may import from the package: `core` is the kernel (unit of
# work, clock, bounds, file store) on `db` alone; `sealing` holds the recipes of a sealed record
# (checksum, custody chain, seal statements, Ed25519, key trust), pure: no database, no web;
# `records` reads, locks and shows a packet's rows for every domain; `bundles.format` reads and
# writes bundles and knows nothing of the database or the web.
FOUNDATION: dict[str, set[str]] = {
    "models": set(),
    "errors": set(),
    "version": set(),
    "config": set(),
    "db": {"db"},
    "core": {"core", "db", "models", "errors"},
    "sealing": {"sealing", "core.canonical", "core.clock", "models", "errors"},
    "records": {"records", "core", "db", "models", "errors"},
    "bundles.format": {
        "bundles.format",
        "core.bounds",
        "core.canonical",
        "core.clock",
        "sealing",
        "models",
        "errors",
    },
}
WEB = {"fastapi", "starlette", "uvicorn", "python_multipart", "httpx"}
DOMAINS = {
    "frame",
    "packets",
    "attachments",
    "sharing",
    "versions",
    "events",
    "bundles",
    "custody",
    "keys",
}
ABOVE_DOMAINS = {"wiring", "recovery", "api", "shard", "host", "cli"}
FRAME_SEAM = {"frame", "host"}
WEB_GLUE = {"deps", "routing"}
MOUNTING = {"api", "shard", "host.app"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, under the package: "packets.service"
    target: str  # ours ("sealing.checksum") or another distribution's top-level name
    ours: bool
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def area(module: str) -> str:
    """The package (or top-level module) a module belongs to; `bundles.format` stands alone."""
    if module == "bundles.format" or module.startswith("bundles.format."):
        return "bundles.format"
    return module.split(".")[0]


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except what an `if TYPE_CHECKING:` block holds."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _ours(dotted: str) -> str | None:
    if dotted == PACKAGE:
        return ""
    if dotted.startswith(PACKAGE + "."):
        return dotted[len(PACKAGE) + 1 :]
    return None


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    parts = module.split(".") if module else []
    package = parts if path.name == "__init__.py" else parts[:-1]
    found: list[Import] = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                ours = _ours(alias.name)
                target = alias.name.split(".")[0] if ours is None else ours
                found.append(Import(module, target, ours is not None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                stem = ".".join([*base, *([node.module] if node.module else [])])
            else:
                ours = _ours(node.module or "")
                if ours is None:
                    found.append(
                        Import(module, (node.module or "").split(".")[0], False, node.lineno)
                    )
                    continue
                stem = ours
            for alias in node.names:
                child = f"{stem}.{alias.name}" if stem else alias.name
                found.append(Import(module, child if child in MODULES else stem, True, node.lineno))
    return found


IMPORTS = [each for module in MODULES for each in imports_of(module)]
OURS = [each for each in IMPORTS if each.ours and each.target]


def find_cycle(graph: Mapping[str, Set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(error.args[1])
    return None


def route_modules() -> set[str]:
    """Modules that build an APIRouter: the web layer of a domain."""
    return {
        module
        for module, path in MODULES.items()
        if any(
            isinstance(node, ast.Call) and ast.unparse(node.func) == "APIRouter"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    }


def test_the_graph_is_read() -> None:
    """The checks below see real imports, relative and absolute, lazy ones included."""
    edges = {(each.source, each.target) for each in OURS}
    assert ("packets.service", "versions.history") in edges
    assert ("db.schema", "db.migrate") in edges  # imported inside a function
    assert ("db.migrations.env", "db.revision") in edges  # absolute
    assert ("sharing.routes", "sharing.link_routes") in edges  # `from . import link_routes`
    assert ("", "shard") in edges  # the package's own __init__
    assert ("deps", "wiring") not in edges  # only under TYPE_CHECKING
    assert {"packets.routes", "sharing.link_routes", "sharing.viewer_routes"} <= route_modules()
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None


def test_no_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for each in OURS:
        if each.target != each.source:
            graph[each.source].add(each.target)
    assert find_cycle(graph) is None


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {area(module): set() for module in MODULES}
    for each in OURS:
        if area(each.target) != area(each.source):
            graph[area(each.source)].add(area(each.target))
    assert find_cycle(graph) is None


def test_the_foundation_imports_nothing_above_it() -> None:
    wrong = [
        str(each)
        for each in IMPORTS
        if area(each.source) in FOUNDATION
        and (
            (each.ours and not any(under(each.target, ok) for ok in FOUNDATION[area(each.source)]))
            or (not each.ours and each.target in WEB)
        )
    ]
    assert wrong == []


def test_domains_never_import_what_assembles_them() -> None:
    wrong = [
        str(each)
        for each in OURS
        if area(each.source) in DOMAINS | {"bundles.format"} and area(each.target) in ABOVE_DOMAINS
    ]
    assert wrong == []


def test_only_the_seam_and_the_host_touch_the_frame() -> None:
    wrong = [
        str(each)
        for each in IMPORTS
        if each.target == "arkham_frame" and area(each.source) not in FRAME_SEAM
    ]
    assert wrong == []


def test_a_route_module_is_mounted_only_by_its_own_domain() -> None:
    """Only the router that mounts it (`api`, `shard`) or a route module of its own domain
    imports a route module; never a service, never another domain."""
    routes = route_modules()
    wrong = [
        str(each)
        for each in OURS
        if each.target in routes
        and each.source not in MOUNTING
        and not (each.source in routes and area(each.source) == area(each.target))
    ]
    assert wrong == []


def test_services_never_reach_the_web_glue() -> None:
    """`deps` and `routing` serve route modules; a service that imports them reaches up."""
    routes = route_modules() | MOUNTING | WEB_GLUE
    wrong = [str(each) for each in OURS if each.target in WEB_GLUE and each.source not in routes]
    assert wrong == []


# What opens a connection or a transaction: a unit of work (`UnitOfWork(`), the Database's
# `writing`, `reading` and `alone`, and an engine's or a driver's `begin`, `connect` and
# `commit`. A savepoint inside a unit of work (`begin_nested`) opens none.
OPENING_METHODS = {"writing", "reading", "alone", "begin", "connect", "commit"}

# The modules that open one, and what each may call. Every other module works in a unit of
# work that `Transactions` begins and commits.
OPENERS: dict[str, set[str]] = {
    # `Transactions`: every unit of work on the shard's records begins and commits here.
    "core.unit_of_work": {"UnitOfWork", "writing", "reading"},
    # The Database under it (its writing, reading and autocommit connections) and the SQLite
    # driver of its short writes, with a sqlite3 connection of its own.
    "db.session": {"begin", "connect"},
    "db.inline_sqlite": {"connect", "commit"},
    # The schema, before any unit of work: migrations, the revision a database is at, and the
    # `SELECT 1` that says why a database can't be used before a server starts.
    "db.migrate": {"begin", "connect"},
    "db.schema": {"connect"},
    "db.probe": {"connect"},
    # The outbox's bookkeeping on its own table once the work that wrote the events committed
    # (placing, claiming, marking delivered; each statement alone), and its relay's NOTIFY and
    # LISTEN: no unit of work, no record of the shard's.
    "events.outbox": {"alone", "reading"},
    "events.relay": {"writing", "connect"},
    # The standalone host's stand-in for the Frame's database service: its SQL helpers are the
    # Frame's to offer shards; this shard never calls them.
    "host.database": {"begin", "connect"},
}


def opening_calls(tree: ast.AST) -> list[tuple[str, int]]:
    """Each call that opens a connection, a transaction or a unit of work: its name, its line.
    By name, whatever it is called on (the source doesn't say what a receiver is)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name == "UnitOfWork" or (isinstance(func, ast.Attribute) and name in OPENING_METHODS):
            found.append((name, node.lineno))
    return sorted(found, key=lambda call: call[1])


OPENED = {
    module: opening_calls(ast.parse(path.read_text(encoding="utf-8")))
    for module, path in MODULES.items()
}


def test_opening_calls_are_found() -> None:
    """What sharing/uses.py once did by hand is seen; a savepoint in a work is not."""
    sample = ast.parse(
        "async def write(tx, engine):\n"
        "    async with tx.database.writing() as conn:\n"
        "        work = UnitOfWork(conn, Scope())\n"
        "        await work.conn.begin_nested()\n"
        "    async with engine.connect() as conn:\n"
        "        await conn.commit()\n"
        "    unit_of_work.UnitOfWork(conn, Scope())\n"
    )
    assert [name for name, _ in opening_calls(sample)] == [
        "writing",
        "UnitOfWork",
        "connect",
        "commit",
        "UnitOfWork",
    ]
    assert {name for name, _ in OPENED["core.unit_of_work"]} == {"UnitOfWork", "writing", "reading"}


def test_only_transactions_begin_a_unit_of_work() -> None:
    """No module but those in OPENERS opens a connection or a transaction, and those only as
    listed: every other works in a unit of work from `Transactions`."""
    wrong = [
        f"{module}: {name}( (line {line})"
        for module, calls in OPENED.items()
        for name, line in calls
        if name not in OPENERS.get(module, set())
    ]
    assert wrong == []


def test_every_opener_listed_still_opens() -> None:
    """The list stays as short as the code: an entry nothing calls any more goes."""
    called = {(module, name) for module, calls in OPENED.items() for name, _ in calls}
    listed = {(module, name) for module, names in OPENERS.items() for name in names}
    assert listed - called == set()
