"""`python -m bench` is the `nonlinbench` command."""

import sys

from bench.cli import main

sys.exit(main())
