"""StepUp 1.x interact API names, served by :mod:`stepup_trio.interact`."""

from stepup_trio.interact import *  # noqa: F403
from stepup_trio.interact import __all__  # noqa: F401
