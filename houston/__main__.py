"""`python -m houston` runs the command line."""

from houston.cli.main import main

main()
