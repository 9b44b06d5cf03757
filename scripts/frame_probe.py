"""One sequential client against a packets shard inside the running real Frame
(../shared/tools/real-frame), signed in, with the token on every request: writes/s (a create
and three content adds per packet), `GET /{id}` p50, the Frame's own `GET /api/auth/me` and
`GET /api/health`, `GET /{id}` beside `GET /api/auth/me` in turn (their ratio holds when the
machine's speed drifts from one Frame to the next), and the list and search p50 at two sizes.
Works against this shard and the seed's (the routes it uses are the seed's too). Prints one
JSON object.

    python scripts/frame_probe.py [--base http://127.0.0.1:8100] [--packets 150]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

EMAIL, PASSWORD = "admin@example.com", "correct-horse-42"
KINDS = ("document", "entity", "claim")
NEEDLES = 100


def p50_ms(http: httpx.Client, path: str, times: int, headers: dict[str, str]) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        answer = http.get(path, headers=headers)
        spent.append(time.perf_counter() - started)
        answer.raise_for_status()
    return round(statistics.median(spent) * 1000, 2)


def place(number: int) -> str:
    """The searched word, "harbor", only in the first packets: a search matches as many
    packets at every size, so its growth is the shard's, not more answers'."""
    return "harbor" if number < NEEDLES else "dock"


def create(http: httpx.Client, number: int, headers: dict[str, str]) -> str:
    made = http.post(
        "/api/packets/",
        json={"name": f"Case file {number}", "description": f"{place(number)} {number % 10}"},
        headers=headers,
    )
    made.raise_for_status()
    return str(made.json()["id"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8100")
    parser.add_argument("--packets", type=int, default=150)
    parser.add_argument("--growth", default="500,2000")
    args = parser.parse_args()
    with httpx.Client(base_url=args.base, timeout=60) as http:
        login = http.post("/api/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        result: dict[str, object] = {
            "auth_me_p50_ms": p50_ms(http, "/api/auth/me", 100, auth),
            "health_p50_ms": p50_ms(http, "/api/health", 100, {}),
        }
        for warm in range(20):  # connections, caches, compiled statements
            http.get(f"/api/packets/{create(http, -warm, auth)}", headers=auth)
        ids, creates, adds = [], [], []
        started = time.perf_counter()
        for number in range(args.packets):
            begun = time.perf_counter()
            ids.append(create(http, number, auth))
            creates.append(time.perf_counter() - begun)
            for kind in KINDS:
                begun = time.perf_counter()
                added = http.post(
                    f"/api/packets/{ids[-1]}/contents",
                    json={
                        "content_type": kind,
                        "content_id": f"{kind}-{number}",
                        "content_title": f"{kind} {number}",
                    },
                    headers=auth,
                )
                adds.append(time.perf_counter() - begun)
                added.raise_for_status()
        elapsed = time.perf_counter() - started
        result["writes_per_s"] = round(args.packets * (1 + len(KINDS)) / elapsed, 1)
        result["create_p50_ms"] = round(statistics.median(creates) * 1000, 2)
        result["content_add_p50_ms"] = round(statistics.median(adds) * 1000, 2)
        spent: list[float] = []
        beside: list[float] = []
        for packet_id in ids * 2:  # each beside the Frame's own signed-in read, in turn
            for path, times in (f"/api/packets/{packet_id}", spent), ("/api/auth/me", beside):
                begun = time.perf_counter()
                http.get(path, headers=auth).raise_for_status()
                times.append(time.perf_counter() - begun)
        result["get_p50_ms"] = round(statistics.median(spent) * 1000, 2)
        result["auth_me_beside_get_p50_ms"] = round(statistics.median(beside) * 1000, 2)
        result["get_per_auth_me"] = round(statistics.median(spent) / statistics.median(beside), 3)
        made = args.packets + 20
        for size in (int(each) for each in args.growth.split(",") if each):
            while made < size:
                create(http, made, auth)
                made += 1
            result[f"list_p50_ms_{size}"] = p50_ms(http, "/api/packets/?page=1", 60, auth)
            result[f"search_p50_ms_{size}"] = p50_ms(
                http, "/api/packets/?page=1&search=harbor%203", 60, auth
            )
        print(json.dumps(result))


if __name__ == "__main__":
    main()
