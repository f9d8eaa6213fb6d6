"""The official ``higgsfield_client.http`` package: ``client``, ``retry``, ``transport`` and ``error``.

Each module holds the official one's names, as adaptations onto this SDK; the names built on httpx
import it when used (the ``[httpx]`` extra). The modules load on first use, as attributes of the
package (``higgsfield_client.http.client.SyncClient``) or by importing them.
"""

import importlib
import typing

if typing.TYPE_CHECKING:
    from . import client as client
    from . import error as error
    from . import retry as retry
    from . import transport as transport

_MODULES = frozenset({"client", "error", "retry", "transport"})


def __getattr__(name: str) -> object:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'higgsfield_client.http' has no attribute {name!r}")


def __dir__() -> typing.List[str]:
    return sorted(_MODULES)
