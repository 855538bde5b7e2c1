"""``python -m lemtrada_asp`` is ``lemtrada-asp``."""

from .cli import main

main()
