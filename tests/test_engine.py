"""Building the engine from the URLs the Frame or an operator may hand us."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from arkham_shard_packets.db.engine import create_engine, server_settings

from .conftest import POSTGRES_URL


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("-csearch_path=packets,public", {"search_path": "packets,public"}),
        (
            "-c search_path=packets -c statement_timeout=5s",
            {"search_path": "packets", "statement_timeout": "5s"},
        ),
        ("--lock-timeout=2s", {"lock_timeout": "2s"}),
    ],
)
def test_libpq_options_become_server_settings(options: str, expected: dict[str, str]) -> None:
    url = make_url("postgresql+asyncpg://u@h/db").update_query_dict(
        {"options": options, "ssl": "require"}
    )
    stripped, settings = server_settings(url)
    assert settings == expected
    assert dict(stripped.query) == {"ssl": "require"}


def test_unreadable_options_are_refused() -> None:
    with pytest.raises(ValueError, match="-c name=value"):
        server_settings(make_url("postgresql+asyncpg://u@h/db?options=-c"))


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PACKETS_TEST_DATABASE_URL")
async def test_options_reach_the_server() -> None:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL).update_query_dict({"options": "-c statement_timeout=1234"})
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "1234ms"
    finally:
        await engine.dispose()
