"""``python -m pytest_llmeval.testing.server``: see :func:`~pytest_llmeval.testing.server.cli.main`."""

import sys

from .cli import main

sys.exit(main())
