"""StepUp 1.x plan API names, served by :mod:`stepup_trio.api`."""

from stepup_trio.api import *  # noqa: F403
from stepup_trio.api import __all__  # noqa: F401
