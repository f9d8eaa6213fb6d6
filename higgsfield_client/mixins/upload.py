"""The official ``higgsfield_client.mixins.upload``: ``UploadMixin``, a base class of both clients."""

from .._uploads import UploadMixin

__all__ = ["UploadMixin"]
