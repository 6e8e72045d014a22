"""``python -m advrec`` runs the ``advrec`` command line."""

import sys

from .cli import main

sys.exit(main())
