"""`arkham-packets verify` trusts the keys the server does by configuration (issue 25, item 17):
ARKHAM_PACKETS_TRUSTED_KEYS as well as `--trust`; a bundle that checks but that no trusted
key signed exits 3, also when no key is trusted at all."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from .bundle_helpers import export
from .custody_helpers import new_key, public_pem, write
from .test_custody_bundles import cli, sealed_and_shared

API = "/api/packets"
SETTING = "ARKHAM_PACKETS_TRUSTED_KEYS"


async def test_verify_reads_the_trusted_keys_setting(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = await sealed_and_shared(client)
    ours = (await client.get(f"{API}/keys")).json()["keys"][0]["fingerprint"]
    _, archive = await export(client, pid, "zip")
    bundle = str(write(tmp_path / "b.zip", archive))
    other = write(tmp_path / "other.pem", public_pem(new_key()))

    monkeypatch.delenv(SETTING, raising=False)
    plain = await cli("verify", bundle)
    assert plain.returncode == 3, plain.stdout
    assert "key: NOT trusted (no key is trusted)" in plain.stdout
    assert plain.stdout.splitlines()[-1].endswith(
        f"UNTRUSTED (it checks, but no key is trusted: pass --trust or set {SETTING})"
    )

    monkeypatch.setenv(SETTING, f" {other} , {ours}")
    trusted = await cli("verify", bundle)
    assert trusted.returncode == 0, trusted.stdout
    assert f"key: trusted (one of the trusted keys (--trust, {SETTING}))" in trusted.stdout
    assert trusted.stdout.startswith(f"{bundle}: OK (BagIt bag in zip)")
    assert "UNTRUSTED" not in trusted.stdout

    monkeypatch.setenv(SETTING, str(other))
    untrusted = await cli("verify", bundle)
    assert untrusted.returncode == 3, untrusted.stdout
    assert f"key: NOT trusted (none of the trusted keys (--trust, {SETTING}))" in untrusted.stdout
    both = await cli("verify", bundle, "--trust", ours)  # added to the setting's
    assert both.returncode == 0, both.stdout

    monkeypatch.setenv(SETTING, str(tmp_path / "missing.pem"))
    unreadable = await cli("verify", bundle)
    assert unreadable.returncode == 2, unreadable.stdout
    (line,) = unreadable.stderr.splitlines()
    assert line.startswith(f"arkham-packets: error: {SETTING} '{tmp_path / 'missing.pem'}' is")
