"""``python -m toree_kernel -f CONNECTION_FILE`` (also ``--profile``, as Toree's kernel.json passes it)."""

import sys

from .app import main

sys.exit(main())
