"""SQLite's writers of one process take turns (db/turns.py) without a turn of the event loop
between two: a writer that finds the turn free takes it at once, waiters or not; a woken waiter
that finds it taken waits again first in line; a waiter that leaves passes its turn on; and no
two writers ever hold it at once. These need no database and run on either setting."""

from __future__ import annotations

import asyncio
import random

from arkham_shard_packets.db.turns import WriterTurns


async def holding(turns: WriterTurns, name: str, order: list[str], release: asyncio.Event) -> None:
    async with turns:
        order.append(name)
        await release.wait()


async def started(work: asyncio.Task[None]) -> None:
    """Lets `work` run until it suspends."""
    for _ in range(3):
        await asyncio.sleep(0)
    assert not work.done()


async def test_a_free_turn_is_taken_at_once_while_a_woken_waiter_has_not_run_yet() -> None:
    turns, order, release = WriterTurns(), list[str](), asyncio.Event()
    await turns.__aenter__()
    waiter = asyncio.create_task(holding(turns, "waiter", order, release))
    await started(waiter)
    await turns.__aexit__(None, None, None)  # the waiter is woken; none of these suspend
    async with turns:
        order.append("newcomer")
    assert order == ["newcomer"]
    release.set()
    await asyncio.wait_for(waiter, 1)
    assert order == ["newcomer", "waiter"]
    assert not turns.held()


class Line:
    """The test holds the turn, "second" and then "third" wait for it."""

    def __init__(self) -> None:
        self.turns, self.order = WriterTurns(), list[str]()
        self.releases = {name: asyncio.Event() for name in ("second", "third")}

    async def __aenter__(self) -> Line:
        await self.turns.__aenter__()
        self.second, self.third = [
            asyncio.create_task(holding(self.turns, name, self.order, self.releases[name]))
            for name in ("second", "third")
        ]
        await started(self.second)
        await started(self.third)
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in (self.second, self.third):
            task.cancel()


async def test_a_woken_waiter_that_finds_the_turn_taken_waits_again_first_in_line() -> None:
    async with Line() as line:
        await line.turns.__aexit__(None, None, None)  # second is woken, and has not run yet
        async with line.turns:  # taken again at once, and held while the loop turns
            await started(line.second)
            assert line.order == []
        for release in line.releases.values():
            release.set()
        await asyncio.wait_for(asyncio.gather(line.second, line.third), 1)
        assert line.order == ["second", "third"]


async def test_a_woken_waiter_that_is_cancelled_passes_its_turn_on() -> None:
    async with Line() as line:
        await line.turns.__aexit__(None, None, None)  # second is woken, and cancelled at once
        line.second.cancel()
        line.releases["third"].set()
        await asyncio.wait_for(line.third, 1)
        assert line.second.cancelled()
        assert line.order == ["third"]
        assert not line.turns.held()


async def test_a_waiter_cancelled_in_line_leaves_the_line() -> None:
    turns, order = WriterTurns(), list[str]()
    releases = {name: asyncio.Event() for name in ("first", "second", "third")}
    first = asyncio.create_task(holding(turns, "first", order, releases["first"]))
    await started(first)
    second = asyncio.create_task(holding(turns, "second", order, releases["second"]))
    await started(second)
    third = asyncio.create_task(holding(turns, "third", order, releases["third"]))
    await started(third)
    second.cancel()
    await asyncio.sleep(0)
    releases["first"].set()
    releases["third"].set()
    await asyncio.wait_for(asyncio.gather(first, third), 1)
    assert order == ["first", "third"]


async def test_no_two_writers_ever_hold_the_turn_at_once() -> None:
    turns, rng = WriterTurns(), random.Random(7)
    inside, most, done = 0, 0, 0

    async def writer(steps: list[int]) -> None:
        nonlocal inside, most, done
        for suspensions in steps:
            async with turns:
                inside += 1
                most = max(most, inside)
                for _ in range(suspensions):  # 0: a short write, which never suspends
                    await asyncio.sleep(0)
                inside -= 1
                done += 1
            await asyncio.sleep(0)

    plans = [[rng.choice((0, 0, 0, 1, 3)) for _ in range(30)] for _ in range(20)]
    tasks = [asyncio.create_task(writer(plan)) for plan in plans]
    await asyncio.sleep(0.01)
    tasks[3].cancel()
    tasks[11].cancel()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    assert most == 1
    assert inside == 0 and not turns.held()
    assert done >= 18 * 30
