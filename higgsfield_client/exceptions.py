"""The official ``higgsfield_client.exceptions``: the root of the SDK's errors, and the error for
missing credentials (a ``HiggsfieldClientError`` here, so one ``except`` catches both)."""

from higgsfield_proto import CredentialsMissedError

from ._errors import HiggsfieldClientError

__all__ = ["CredentialsMissedError", "HiggsfieldClientError"]
