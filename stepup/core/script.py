"""StepUp 1.x script driver, served by :mod:`stepup_trio.script`."""

from stepup_trio.script import *  # noqa: F403
from stepup_trio.script import __all__  # noqa: F401
