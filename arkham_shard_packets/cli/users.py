"""Frame users on the standalone host: the stand-in auth `serve` uses, and `arkham-packets
token`, which issues a user's bearer token as the Frame's login would."""

from __future__ import annotations

import argparse
from typing import Any

from ..config import JWT_LIFETIME_MAX_SECONDS, Settings
from ..host.auth import AuthConfigError, HostAuth
from .options import UsageError, add_command


class UsersUnavailable(Exception):
    pass


def host_auth(settings: Settings) -> HostAuth | None:
    """The users of ARKHAM_PACKETS_AUTH_USERS_FILE with ARKHAM_PACKETS_AUTH_SECRET; None
    when neither is set."""
    if settings.auth_secret is None and settings.auth_users_file is None:
        return None
    if settings.auth_secret is None or settings.auth_users_file is None:
        raise UsersUnavailable(
            "ARKHAM_PACKETS_AUTH_SECRET and ARKHAM_PACKETS_AUTH_USERS_FILE go together: set both"
        )
    try:
        return HostAuth.from_file(
            settings.auth_secret, settings.auth_users_file, settings.jwt_lifetime_seconds
        )
    except AuthConfigError as error:
        raise UsersUnavailable(str(error)) from None


def issue_token(args: argparse.Namespace) -> None:
    lifetime = args.lifetime
    if lifetime is not None and not 1 <= lifetime <= JWT_LIFETIME_MAX_SECONDS:
        raise UsageError(
            f"--lifetime {lifetime}: a token lasts 1 to {JWT_LIFETIME_MAX_SECONDS} seconds "
            "(366 days), as ARKHAM_PACKETS_JWT_LIFETIME_SECONDS does"
        )
    auth = host_auth(Settings())
    if auth is None:
        raise UsersUnavailable(
            "no Frame users configured: set ARKHAM_PACKETS_AUTH_SECRET and "
            "ARKHAM_PACKETS_AUTH_USERS_FILE"
        )
    user = auth.by_email(args.email)
    if user is None or not user.is_active:
        raise UsersUnavailable(f"no active user {args.email} in {Settings().auth_users_file}")
    print(auth.issue(user, lifetime))


def add_user_commands(commands: Any) -> None:
    token = add_command(
        commands, "token", "print a Frame user's bearer token for the standalone host"
    )
    token.add_argument("email", help="the user's email in ARKHAM_PACKETS_AUTH_USERS_FILE")
    token.add_argument(
        "--lifetime",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how long the token lasts, at most 366 days (default: "
        "ARKHAM_PACKETS_JWT_LIFETIME_SECONDS, else 3600)",
    )
    token.set_defaults(handler=issue_token)
