"""``python -m calpico.cli``: the same as the ``calpico`` command."""

from __future__ import annotations

from .app import main

main()
