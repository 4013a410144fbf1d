"""Shared fixtures: tiny MSP-Podcast-format corpora written from Python rows."""

from __future__ import annotations

import pytest

from sertools import config as config_mod


@pytest.fixture
def default_cfg() -> dict:
    return config_mod.resolve({})
