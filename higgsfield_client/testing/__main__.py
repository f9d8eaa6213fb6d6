"""``python -m higgsfield_client.testing``: run the emulator in the foreground."""

from __future__ import annotations

import sys

from ._cli import main

sys.exit(main())
