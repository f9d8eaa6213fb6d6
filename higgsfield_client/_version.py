"""The package's version, read by the build (pyproject's dynamic version) and by ``--version``."""

__version__ = "0.3.0.dev0"
"""This package's version (``higgsfield-sansio``, not the official ``higgsfield-client``'s)."""
DISTRIBUTION = "higgsfield-sansio"
"""The name this package is installed under (its import package is ``higgsfield_client``)."""
COMMAND = "higgsfield-sansio"
"""The command line's script on PATH (``python -m higgsfield_client`` is the same program)."""
