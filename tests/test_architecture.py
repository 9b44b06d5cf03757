"""The package's import graph, read from the source: no cycle between modules or between
packages, and every arrow pointing the way the layout says (routes -> service -> core/db; the
wiring, the shard, the host and the CLI above every domain; the Frame only behind frame/ and
host/; nothing outside the web layer imports the web). Imports under `if TYPE_CHECKING:` are for
the type checker only and are not counted. docs/layout.md draws the same layers. And one owner
of transactions: only `Transactions` begins a unit of work, and the few modules below or
beside it that open a connection of their own are listed with why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = "arkham_shard_packets"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# What the bottom of the package may import from the package: `core` is the kernel (unit of
# work, clock, bounds, file store) on `db` alone; `sealing` holds the recipes of a sealed record
# (checksum, custody chain, seal statements, Ed25519, key trust), pure: no database, no web;
# `records` reads, locks and shows a packet's rows for every domain; `bundles.format` reads and
# writes bundles and knows nothing of the database or the web; `stores` holds the store's
# backends, which only what assembles the shard picks (STORE_PICKERS).
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
    # the store's backends (core/store.py's interface): built from the settings
    "stores": {"stores", "core", "config", "errors"},
}
WEB = {"fastapi", "fastapi_offline", "starlette", "uvicorn", "python_multipart", "httpx"}
# The web layer: what speaks HTTP. Every route module (one that builds an APIRouter:
# route_modules()) and these; a module under a package named here is of it too. Everything else
# (services, records, the kernel, sealing, db, bundles.format, the wiring, the CLI) imports
# nothing of it: a service raises a domain error from errors.py, which routing.py answers.
WEB_LAYER = {
    "api",  # the router every route hangs from
    "route_order",  # the order its routes are tried in
    "shard",  # what the Frame loads: mounts the router
    "host",  # the standalone host: its app, its own routes and the Frame stand-ins it offers
    "deps",  # what routes depend on: the request's scope, the services, path parameters
    "routing",  # the route class, where domain errors become HTTP answers
    "bodies",  # request bodies read within bounds, validation errors as 422
    "openapi",  # the OpenAPI document's tags and links
    "attachments.multipart",  # the streamed multipart reader
    "attachments.downloads",  # a file as a streamed answer
    "packets.listing",  # the list routes' query parameters: filters, paging, sorting
    "sharing.page",  # the viewer route's HTML page and the headers it is served with
    "sharing.routes",  # the routers a share link opens, and whether a request goes to one
    "frame.callers",  # who calls: the request's Frame user, as a dependency
}
# Outside the web layer, only these reach into it, each for its reason.
REACHES_WEB: dict[str, set[str]] = {
    "": {"shard"},  # the package hands the Frame its shard
    "cli": {"host", "uvicorn"},  # `arkham-packets serve` runs the standalone host
    # It serves no request: the client commands (`push`, `pull`, ...) call a running server's
    # API over the network, with httpx, as any script would.
    "client": {"httpx"},
    # It serves no request: it calls an owning shard through the Frame's own app in process
    # (httpx's ASGI transport, Starlette's route matching) and encodes the Frame's records as
    # the Frame's API would (FastAPI's encoder).
    "frame.resolver": {"httpx", "starlette", "fastapi"},
}
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
ABOVE_DOMAINS = {"wiring", "recovery", "moving", "api", "shard", "host", "cli", "client"}
# Who picks a store's backend: services see only core/store.py's interface.
STORE_PICKERS = {"wiring", "shard", "host", "cli", "stores"}
FRAME_SEAM = {"frame", "host"}
# the modules that mount routers, and the one that tells the routes a share link opens
MOUNTING = {"api", "shard", "host.app", "sharing.routes"}


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
    return imports_in(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")


def imports_in(module: str, source: str, is_package: bool = False) -> list[Import]:
    """The imports a module's source makes, as `module` of the package would make them."""
    parts = module.split(".") if module else []
    package = parts if is_package else parts[:-1]
    found: list[Import] = []
    for node in _runtime_nodes(ast.parse(source)):
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


def web_layer() -> set[str]:
    return route_modules() | WEB_LAYER


def web_reaches(imports: Iterable[Import], web: Set[str]) -> list[str]:
    """Each import by which a module outside the web layer `web` reaches into it: a module of
    ours in the web layer, or a web package (REACHES_WEB's reasons aside)."""

    def of_web(module: str) -> bool:
        return any(under(module, each) for each in web)

    def excused(each: Import) -> bool:
        return any(
            (each.source == source or (source and under(each.source, source)))
            and any(under(each.target, target) for target in targets)
            for source, targets in REACHES_WEB.items()
        )

    wrong = []
    for each in imports:
        if of_web(each.source) or excused(each):
            continue
        if each.ours and each.target and of_web(each.target):
            wrong.append(f"{each}: {each.target} is of the web layer")
        elif not each.ours and each.target in WEB:
            wrong.append(f"{each}: {each.target} is a web package")
    return wrong


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
        for each in OURS
        if area(each.source) in FOUNDATION
        and not any(under(each.target, ok) for ok in FOUNDATION[area(each.source)])
    ]
    assert wrong == []


def test_domains_never_import_what_assembles_them() -> None:
    wrong = [
        str(each)
        for each in OURS
        if area(each.source) in DOMAINS | {"bundles.format"} and area(each.target) in ABOVE_DOMAINS
    ]
    assert wrong == []


def test_only_what_assembles_the_shard_picks_a_store() -> None:
    wrong = [
        str(each)
        for each in OURS
        if area(each.target) == "stores" and area(each.source) not in STORE_PICKERS
    ]
    assert wrong == []


S3_BACKEND = {
    "stores.s3",
    "stores.s3_session",
    "stores.s3_uploads",
}  # the backend, and what only it imports


def test_only_the_s3_backend_imports_its_client() -> None:
    """aiobotocore is an optional extra: nothing but `stores/s3.py` (imported only when the
    s3 store is chosen) and the modules it alone imports may need it."""
    wrong = [
        str(each)
        for each in IMPORTS
        if each.target in {"aiobotocore", "botocore"} and each.source not in S3_BACKEND
    ]
    wrong += [
        str(each)
        for each in OURS
        if each.target in S3_BACKEND - {"stores.s3"} and each.source != "stores.s3"
    ]
    assert wrong == []


def test_the_client_speaks_to_the_server_only_over_http() -> None:
    """client/ (what `push`, `pull`, ... call) imports nothing of the package but itself: it
    reaches the packets through a server's API, never through a service, the database or the
    store; only the CLI uses it."""
    wrong = [
        str(each)
        for each in OURS
        if (area(each.source) == "client") != (area(each.target) == "client")
        and not (area(each.source) == "cli" and area(each.target) == "client")
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


def test_nothing_outside_the_web_layer_imports_the_web() -> None:
    """Services, records, the kernel, sealing, db, bundles.format, the wiring: none imports a
    route module, `deps`, `routing`, `bodies`, ... or FastAPI, Starlette, uvicorn, httpx."""
    wrong = web_reaches(IMPORTS, web_layer())
    assert not wrong, (
        "a module outside the web layer imports the web: raise a domain error from errors.py "
        "(routing.py turns it into the HTTP answer) or move the web part into a route module; "
        "if the module does serve HTTP, name it in WEB_LAYER:\n" + "\n".join(wrong)
    )


def test_the_web_check_catches_a_service_reaching_up() -> None:
    """A service raising FastAPI's HTTPException, reading a body with `bodies`, or importing
    Starlette lazily inside a function is caught; the same lines in a route module are not."""

    def check(module: str, source: str) -> list[str]:
        return web_reaches(imports_in(module, source), web_layer())

    source = (
        "from fastapi import HTTPException\n"
        "from ..bodies import reads_body\n"
        "from .. import deps\n"
        "def answer():\n"
        "    from starlette.requests import Request\n"
    )
    assert check("packets.service", source) == [
        "packets.service -> fastapi (line 1): fastapi is a web package",
        "packets.service -> bodies (line 2): bodies is of the web layer",
        "packets.service -> deps (line 3): deps is of the web layer",
        "packets.service -> starlette (line 5): starlette is a web package",
    ]
    assert check("packets.routes", source) == []
    assert check("host.app", source) == []  # a module under host/ is of the web layer
    assert check("core.clock", "from ..host import auth\n") != []
    assert check("records.packets", "from ..packets.listing import PagingDep\n") != []
    # the CLI runs the host, and nothing else of the web
    assert check("cli.main", "from ..host import app\nimport uvicorn\n") == []
    assert check("cli.main", "from ..deps import get_scope\nimport httpx\n") != []


def test_the_web_layer_names_what_is_there() -> None:
    """A module named in WEB_LAYER or REACHES_WEB that was renamed would silently drop a rule."""
    names = set(MODULES)
    gone = [name for name in WEB_LAYER | set(REACHES_WEB) if name not in names]
    assert gone == []


OPENING_METHODS = {"writing", "reading", "autocommit", "dedicated", "begin", "connect", "commit"}

# The modules that open one, and what each may call. Every other module works in a unit of
# work that `Transactions` begins and commits.
OPENERS: dict[str, set[str]] = {
    # `Transactions`: every unit of work on the shard's records begins and commits here.
    "core.unit_of_work": {"UnitOfWork", "writing", "reading"},
    # The Database under it (its writing, reading and autocommit connections) and the SQLite
    # driver of its short writes, with a sqlite3 connection of its own.
    "db.session": {"begin", "connect", "writing"},
    "db.inline_sqlite": {"connect", "commit"},
    # The schema, before any unit of work: migrations, the revision a database is at, and the
    # `SELECT 1` that says why a database can't be used before a server starts.
    "db.migrate": {"begin", "connect"},
    "db.schema": {"connect"},
    "db.probe": {"connect"},
    # The outbox's bookkeeping on its own table once the work that wrote the events committed
    # (placing, claiming, marking delivered; each statement alone), and its relay's NOTIFY and
    # LISTEN: no unit of work, no record of the shard's.
    "events.outbox": {"autocommit", "reading"},
    "events.relay": {"writing", "connect"},
    # The sweep's lease: PostgreSQL's advisory lock, held by a session of its own that is
    # closed (never pooled) to end it, so a killed holder's lock ends with its connection.
    "db.lease": {"dedicated"},
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
