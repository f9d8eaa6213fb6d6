"""Mistakes in model arguments that the generated TypedDicts let ``mypy --strict`` catch.

It is type-checked, never run (tests/typing/test_user_typing.py): each line marked ``# wrong``
must get an error naming what is wrong, and no other line any.
"""

from __future__ import annotations

import higgsfield_client
from higgsfield_client.models.arguments import (
    HiggsfieldAiSoulStandardArguments,
    KlingVideoV21ProImageToVideoArguments,
)

typo: HiggsfieldAiSoulStandardArguments = {"prompt": "a lake", "resolutin": "2K"}  # wrong: "resolutin"
choice: HiggsfieldAiSoulStandardArguments = {"prompt": "a lake", "resolution": "720p"}  # wrong: "resolution"
missing: HiggsfieldAiSoulStandardArguments = {"resolution": "2K"}  # wrong: "prompt"
Kling = KlingVideoV21ProImageToVideoArguments
number: Kling = {"prompt": "p", "image_url": "u", "duration": 7}  # wrong: "duration"
fine: Kling = {"prompt": "p", "image_url": "u", "cfg_scale": 0.5}
higgsfield_client.submit("kling-video/v2.1/pro/image-to-video", arguments=fine)
