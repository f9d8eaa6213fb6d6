"""The official ``higgsfield_client.auth``: the API key from the environment."""

from __future__ import annotations

import os

from higgsfield_proto import Credentials, CredentialsMissedError

__all__ = ["CredentialsMissedError", "get_credential_key"]


def get_credential_key() -> str:
    """The API key a client built without ``api_key=`` uses, as ``"<key_id>:<secret>"``.

    ``HF_KEY``, else ``HF_API_KEY`` and ``HF_API_SECRET`` joined by a colon.

    Raises:
        CredentialsMissedError: neither is set.
        InvalidArgumentError: the key is not two non-empty parts joined by a colon.
    """
    credentials = Credentials.from_environment(os.environ)
    return f"{credentials.key_id}:{credentials.secret}"
