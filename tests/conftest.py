"""Suite-wide fixtures."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the database rolls back between tests, and
    cached fragments keyed on ids and timestamps must not outlive the rows behind them."""
    cache.clear()
    yield
