"""Allow ``python -m stepup_trio`` to start the command-line interface."""

from stepup_trio.cli import main

if __name__ == "__main__":
    main()
