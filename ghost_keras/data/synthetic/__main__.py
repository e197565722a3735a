"""``python -m ghost_keras.data.synthetic``: see :mod:`ghost_keras.data.synthetic.cli`."""

import sys

from ghost_keras.data.synthetic.cli import main

sys.exit(main())
