import numpy as np
import pytest

try:  # pytest -n 2 runs two workers on two cores: one BLAS thread each, not two fighting for a core
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover - threadpoolctl comes with the test extra
    pass


@pytest.fixture(autouse=True)
def _raise_on_floating_point_errors():
    """Overflow, division by zero and invalid operations fail the test instead of warning."""
    with np.errstate(all="raise", under="ignore"):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
