"""Shared fixtures: the installed node kinds and a freshly booted workflow."""

import pytest

from stepup_trio.core.workflow import Workflow
from stepup_trio.plugins import load_plugins


@pytest.fixture
def kinds():
    return load_plugins().kinds


@pytest.fixture
def workflow(kinds):
    return Workflow.boot(kinds)
