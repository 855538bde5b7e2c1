"""``python -m lemtrada_asp`` is ``lemtrada-asp``."""

from .cli import main

# Guarded: `serve --workers N` spawns processes that import this module again.
if __name__ == "__main__":
    main()
