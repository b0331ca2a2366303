"""`python -m houston` runs the command line."""

from houston.cli import main

main()
