"""``python -m ui``: the nurse's app."""

import sys

from ui.app import main

sys.exit(main())
