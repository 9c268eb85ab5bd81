"""`python -m ecospec`: the `ecospec` command."""

from ecospec.cli import main

raise SystemExit(main())
