"""The order the shard's routes are tried in: the busiest first, fixed segments before
parameters.

FastAPI tries a router's routes one after the other, twice a request in 0.16x, at a few
microseconds each: a content add, the 28th route, was tried against 67 routes a request (25
now). So the busiest routes come first, under one rule: where two routes meet (the
same number of segments, each segment the same word in both or a parameter in one, and a
method in common), the one with a word where the other has a parameter, at the first segment
where they differ, is tried first. `POST /batch/archive` is the batch route's, not the archive
of a packet named "batch"; `GET /shared/contents` a share link's, not the items of a packet
named "shared"; `GET /count` the count's.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Sequence

from fastapi.routing import APIRoute

BUSIEST = (  # what the Shell and scripts call most, most first
    ("GET", "/{packet_id}"),
    ("POST", "/{packet_id}/contents"),
    ("PUT", "/{packet_id}"),
    ("POST", "/"),
    ("GET", "/"),
    ("GET", "/{packet_id}/contents"),
    ("DELETE", "/{packet_id}/contents/{content_entry_id}"),
    ("POST", "/{packet_id}/share"),
    ("GET", "/{packet_id}/shares"),
    ("GET", "/stats/overview"),
)


@functools.cache
def _segments(path: str) -> tuple[str | None, ...]:
    """A path's segments, None for a parameter (which matches one non-empty segment); read
    once per path, not once per pair of routes."""
    return tuple(
        None if part.startswith("{") and part.endswith("}") else part
        for part in path.strip("/").split("/")
    )


def goes_before(first: APIRoute, second: APIRoute) -> bool:
    """Whether `first` must be tried before `second`: they meet, and at the first segment where
    they differ `first` has a word and `second` a parameter."""
    if not (first.methods or set()) & (second.methods or set()):
        return False
    mine, theirs = _segments(first.path), _segments(second.path)
    if len(mine) != len(theirs):
        return False
    decided = None
    for word, other in zip(mine, theirs, strict=True):
        if word is not None and other is not None and word != other:
            return False  # two different words: no path is both routes'
        if decided is None and (word is None) != (other is None):
            decided = word is not None and word != ""
        if (word == "" and other is None) or (other == "" and word is None):
            return False  # a parameter matches no empty segment
    return bool(decided)


def _rank(route: APIRoute) -> int:
    for rank, (method, path) in enumerate(BUSIEST):
        if path == route.path and method in (route.methods or ()):
            return rank
    return len(BUSIEST)


def busiest_first(routes: Sequence[APIRoute]) -> list[APIRoute]:
    """`routes` in the order to try them: next, of those whose every route that must go before
    them is placed, the one with the busiest route behind it (then the first given)."""
    numbers = range(len(routes))
    before = {n: {m for m in numbers if goes_before(routes[m], routes[n])} for n in numbers}
    rank = {n: _rank(routes[n]) for n in numbers}
    changed = True
    while changed:  # a route that must go before a busy one is as busy
        changed = False
        for n, needs in before.items():
            for m in needs:
                if rank[n] < rank[m]:
                    rank[m], changed = rank[n], True
    ready = [(rank[n], n) for n, needs in before.items() if not needs]
    heapq.heapify(ready)
    placed: list[int] = []
    while ready:
        _, n = heapq.heappop(ready)
        placed.append(n)
        for m, needs in before.items():
            if n in needs:
                needs.discard(n)
                if not needs:
                    heapq.heappush(ready, (rank[m], m))
    if len(placed) != len(routes):
        raise ValueError("the routes' order rules contradict each other")
    return [routes[n] for n in placed]
