"""The version, written once: in shard.yaml, the Frame's manifest, from which the build takes
it (pyproject.toml, [tool.hatch.version]) into the package's metadata, read here."""

from importlib.metadata import version

__version__ = version("arkham-shard-packets")
