"""``python -m pyramid_nacl_session``: the same as the ``pyramid-nacl-session`` command."""

import sys

from .cli import main

sys.exit(main())
