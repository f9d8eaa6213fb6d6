"""``python -m higgsfield_client``: the command line, whatever the name of its script on PATH."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
