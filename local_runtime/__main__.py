"""`python -m local_runtime serve | invoke | ...`: see local_runtime.cli for the commands."""

import sys

from local_runtime.cli import main

sys.exit(main())
