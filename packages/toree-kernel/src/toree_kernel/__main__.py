"""``python -m toree_kernel -f CONNECTION_FILE`` (also ``--profile``, as Toree's kernel.json passes it)."""

from .app import main
from .lifecycle import exit_now

# Not sys.exit: threads a cell started and left running (non-daemon ones too) must not keep the process.
exit_now(main())
