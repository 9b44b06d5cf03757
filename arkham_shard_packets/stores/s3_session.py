"""aiobotocore sessions for the S3 store (and the tests' and benchmarks' own clients), sharing
what botocore reads of its service descriptions."""

from __future__ import annotations

from functools import cache

from aiobotocore.session import AioSession, get_session
from botocore.loaders import Loader, create_loader


@cache
def service_descriptions(data_path: str | None) -> Loader:
    """botocore's reader of its service descriptions, which keeps what it has read: one a
    process, where a session of its own reads its JSON files again (about 0.2 s a client)."""
    return create_loader(data_path)


def new_session() -> AioSession:
    """An aiobotocore session (its credentials looked up on its own), sharing the process's
    service descriptions."""
    session = get_session()
    data_path = session.get_config_variable("data_path")
    session.register_component("data_loader", service_descriptions(data_path))
    return session
