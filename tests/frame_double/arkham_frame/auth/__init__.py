"""A double of the Frame's `arkham_frame.auth` package, laid out as the real one is: its
dependencies live in `dependencies.py`, and the package offers `current_optional_user`."""

from .dependencies import current_optional_user

__all__ = ["current_optional_user"]
