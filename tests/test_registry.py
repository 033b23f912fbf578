"""Every Module and Loss passes a float64 gradient check, and none is left out of the registry."""

import inspect

import numpy as np
import pytest

import babysit
from babysit.diagnostics.gradcheck import check_module_gradients, numerical_gradient, relative_error
from babysit.nn.losses import Loss
from babysit.nn.module import MODULE_REGISTRY
from tests.cases import all_loss_cases, all_module_cases

MODULE_CASES = all_module_cases()
LOSS_CASES = all_loss_cases()


def _babysit_classes(registry):
    return {cls for cls in registry if cls.__module__.startswith("babysit.") and not cls.__name__.startswith("_")}


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_module_gradients(case, mode):
    if mode not in case.modes:
        pytest.skip(f"{case.name} is only checked in {case.modes}")
    rng = np.random.default_rng(1)
    module = case.build(rng)
    module.train(mode == "train")
    report = check_module_gradients(module, case.input(rng), rng=rng, tolerance=case.tolerance)
    assert report.passed, f"{case.name} ({mode}):\n{report}"


@pytest.mark.parametrize("case", LOSS_CASES, ids=lambda case: case.name)
def test_loss_gradients(case):
    rng = np.random.default_rng(2)
    scores, targets = case.make_data(rng)
    loss = case.build()
    loss(scores, targets)
    analytic = loss.backward().copy()
    numeric = numerical_gradient(lambda: loss(scores, targets), scores)
    error = relative_error(analytic, numeric).max()
    assert error < case.tolerance, f"{case.name}: max relative error {error:.2e}"


def test_every_module_class_is_in_the_registry():
    covered = set()
    rng = np.random.default_rng(0)
    for case in MODULE_CASES:
        covered |= {type(m) for m in case.build(rng).modules()}
    missing = _babysit_classes(MODULE_REGISTRY.values()) - covered
    assert not missing, f"modules without a gradient-check case in tests/cases: {sorted(c.__name__ for c in missing)}"


def test_every_loss_class_is_in_the_registry():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    covered = {type(case.build()) for case in LOSS_CASES}
    missing = {cls for cls in _babysit_classes(subclasses(Loss)) if not inspect.isabstract(cls)} - covered
    assert not missing, f"losses without a gradient-check case: {sorted(c.__name__ for c in missing)}"


def test_a_wrong_backward_fails_the_check():
    """The check itself must be able to fail: a Linear whose weight gradient is off by 1%."""

    class SlightlyWrongLinear(babysit.nn.Linear):
        def backward(self, dout):
            dx = super().backward(dout)
            self.weight.grad *= 1.01
            return dx

    try:
        module = SlightlyWrongLinear(4, 3, rng=0)
        rng = np.random.default_rng(0)
        report = check_module_gradients(module, rng.standard_normal((5, 4)), rng=rng)
        assert not report.passed
        assert report.worst().name == "weight"
    finally:
        MODULE_REGISTRY.pop("SlightlyWrongLinear", None)


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda case: case.name)
def test_save_load_round_trip(case, tmp_path):
    rng = np.random.default_rng(3)
    module = case.build(rng).eval()
    x = case.input(rng).astype(module.dtype)
    path = tmp_path / f"{case.name}.npz"
    module.save(path)
    loaded = babysit.load(path).eval()
    assert type(loaded) is type(module)
    assert loaded.state_dict().keys() == module.state_dict().keys()
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value, err_msg=name)
    np.testing.assert_array_equal(loaded(x), module(x))
