"""``python -m experiments.benchmark [--quick] [--out DIR]``."""

import sys

from experiments.benchmark.harness import main

sys.exit(main())
