"""`python -m simplechat` runs the command line."""

from simplechat.cli import main

raise SystemExit(main())
