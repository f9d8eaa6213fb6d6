"""The official ``higgsfield_client.mixins``: the upload helpers both clients have."""

from .upload import UploadMixin

__all__ = ["UploadMixin"]
