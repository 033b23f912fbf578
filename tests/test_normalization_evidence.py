"""The lecture's BatchNorm claims, checked with our layers (benchmarks/batchnorm_evidence.py prints the table)."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytestmark = pytest.mark.slow

_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "batchnorm_evidence.py"


@pytest.fixture(scope="module")
def evidence():
    spec = importlib.util.spec_from_file_location("batchnorm_evidence", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module, module.digits()


def test_batchnorm_trains_at_learning_rates_where_the_plain_net_fails(evidence):
    script, data = evidence
    runs = script.learning_rate_sweep(data, rates=(0.1, 1.0, 3.0))
    assert runs[False, 0.1].val_accuracy > 0.9 and runs[True, 0.1].val_accuracy > 0.9  # both fine at a small rate
    assert runs[False, 3.0].diverged_at is not None  # the plain net blows up...
    assert runs[True, 3.0].diverged_at is None and runs[True, 3.0].val_accuracy > 0.8  # ...BatchNorm trains
    assert runs[False, 1.0].final_loss > 1.5  # at lr 1 the plain net makes no real progress
    assert runs[True, 1.0].val_accuracy > 0.9


def test_batchnorm_is_far_less_sensitive_to_the_init_scale(evidence):
    script, data = evidence
    runs = script.init_scale_sweep(data, scales=(0.1, 1.0, 10.0))
    assert runs[False, 1.0].val_accuracy > 0.9
    assert runs[False, 0.1].final_loss > 2.2  # activations vanish: stuck at ln(10)
    assert runs[False, 10.0].diverged_at is not None  # activations explode
    for scale in (0.1, 1.0, 10.0):
        assert runs[True, scale].diverged_at is None and runs[True, scale].val_accuracy > 0.6, scale
