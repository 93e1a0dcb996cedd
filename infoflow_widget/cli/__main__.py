"""``python -m infoflow_widget.cli``: the ``infoflow`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
