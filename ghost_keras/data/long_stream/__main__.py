"""``python -m ghost_keras.data.long_stream``: see :mod:`ghost_keras.data.long_stream.cli`."""

import sys

from ghost_keras.data.long_stream.cli import main

sys.exit(main())
