"""The optimizer race on 2-D surfaces: exact gradients, trajectories, the lecture's results, the plot."""

import sys

import numpy as np
import pytest

from babysit.diagnostics.gradcheck import numerical_gradient, relative_error
from babysit.labs.optimizer_race import DIVERGED, default_optimizers, final_losses, plot_race, race
from babysit.labs.surfaces import SURFACES, get_surface


class HandGD:
    """Plain gradient descent with the optimizer interface race() expects."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for p in self.params:
            p.data -= self.lr * p.grad
        return loss


def _library_optimizers():
    try:
        from babysit.optim import SGD, Adagrad, Adam, RMSprop
    except ImportError:
        pytest.skip("babysit.optim does not export SGD, Adagrad, RMSprop and Adam yet")
    return SGD, Adagrad, RMSprop, Adam


# ------------------------------------------------------------------------------- surfaces
@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_gradients_match_centered_differences(name, rng):
    surface = get_surface(name)
    points = [np.array(surface.start)] + [
        np.array([rng.uniform(*surface.xlim), rng.uniform(*surface.ylim)]) for _ in range(5)
    ]
    for point in points:
        numeric = numerical_gradient(lambda p=point: surface(p), point)
        assert relative_error(surface.gradient(point), numeric).max() < 1e-6, point


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_minima_are_stationary_zeros(name):
    surface = get_surface(name)
    for minimum in surface.minima:
        assert surface(minimum) == pytest.approx(0.0, abs=1e-12)
        np.testing.assert_allclose(surface.gradient(minimum), 0.0, atol=1e-12)
    assert surface(surface.start) > surface.minimum_value + 1.0


def test_taco_has_a_saddle_between_two_minima_in_a_narrow_valley():
    taco = get_surface("taco")
    np.testing.assert_array_equal(taco.gradient((0.0, 0.0)), [0.0, 0.0])
    h = 1e-4
    along = (taco((h, 0)) + taco((-h, 0)) - 2 * taco((0, 0))) / h**2
    across = (taco((0, h)) + taco((0, -h)) - 2 * taco((0, 0))) / h**2
    assert along < 0 < across  # a saddle: down along the valley, up across it
    at_minimum = (taco((2 + h, 0)) + taco((2 - h, 0)) - 2 * taco((2, 0))) / h**2
    assert across / at_minimum > 10  # elongated: much steeper across than along
    X, Y, Z = taco.grid(50)
    assert X.shape == Y.shape == Z.shape == (50, 50)


def test_unknown_surface_is_named():
    with pytest.raises(ValueError, match="unknown surface 'saddle'"):
        get_surface("saddle")


# ----------------------------------------------------------------------------------- race
def test_race_returns_one_trajectory_per_optimizer_from_the_same_start():
    results = race("taco", {"slow": (HandGD, {"lr": 0.05}), "fast": (HandGD, {"lr": 0.2})}, steps=30)
    taco = get_surface("taco")
    assert list(results) == ["slow", "fast"]
    for path in results.values():
        assert path.shape == (31, 2)
        np.testing.assert_array_equal(path[0], taco.start)
        losses = [taco(point) for point in path]
        assert losses[-1] < losses[0]
    assert race("taco", {"gd": (HandGD, {"lr": 0.1})})["gd"].shape == (taco.steps + 1, 2)
    custom = race("beale", {"gd": (HandGD, {"lr": 1e-3})}, steps=5, start=(2.0, 0.0))["gd"]
    np.testing.assert_array_equal(custom[0], [2.0, 0.0])


def test_a_diverging_run_stops_and_is_reported():
    results = race("rosenbrock", {"too_fast": (HandGD, {"lr": 0.1})}, steps=50)
    path = results["too_fast"]
    assert np.isnan(path[-1]).all() and np.isfinite(path[0]).all()
    assert np.all(np.abs(path[np.isfinite(path).all(axis=1)]) <= DIVERGED)
    assert final_losses(results, "rosenbrock") == {"too_fast": float("inf")}


def test_race_arguments_are_checked():
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        race("taco", {"gd": (HandGD, {"lr": 0.1})}, steps=-1)
    with pytest.raises(ValueError, match="start must be a point"):
        race("taco", {"gd": (HandGD, {"lr": 0.1})}, start=(1.0, 2.0, 3.0))


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_every_default_optimizer_lowers_the_loss(name):
    _library_optimizers()
    surface = get_surface(name)
    results = race(name)
    assert set(results) == {"SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam"}
    for optimizer, loss in final_losses(results, name).items():
        assert loss < 0.2 * surface(surface.start), f"{optimizer} on {name}: {loss}"


def test_on_the_taco_momentum_beats_sgd_and_sgd_zigzags():
    SGD, _, _, Adam = _library_optimizers()
    taco = get_surface("taco")
    lineup = {
        "SGD": (SGD, {"lr": 0.2}),
        "Momentum": (SGD, {"lr": 0.2, "momentum": 0.9}),
        "Adam": (Adam, {"lr": 0.1}),
        "SGD near its limit": (SGD, {"lr": 0.45}),
    }
    results = race("taco", lineup, steps=50)
    losses = final_losses(results, taco)
    # Plain SGD is still sitting near the saddle (loss 0.16 there); momentum and Adam got past it.
    assert losses["SGD"] > 0.1
    assert losses["Momentum"] < losses["SGD"] / 5
    assert losses["Adam"] < losses["SGD"] / 5
    # Across the steep direction SGD overshoots every step: y changes sign again and again.
    y = results["SGD near its limit"][:20, 1]
    assert np.count_nonzero(np.sign(y[1:]) != np.sign(y[:-1])) >= 15


# ----------------------------------------------------------------------------------- plot
def test_plot_race_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    results = race("taco", {"gd": (HandGD, {"lr": 0.2}), "diverged": (HandGD, {"lr": 5.0})}, steps=20)
    path = tmp_path / "plots" / "race.png"
    figure = plot_race(results, "taco", path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any(label.startswith("gd: loss") for label in labels)
    assert "diverged: diverged" in labels
    assert "saddle" in labels
    assert "20 steps" in figure.axes[0].get_title()
    plot_race(race("rosenbrock", {"gd": (HandGD, {"lr": 1e-3})}, steps=10), "rosenbrock", tmp_path / "r.png")


def test_plot_race_without_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_race({"gd": np.zeros((2, 2))}, "taco")


def test_default_lineup_uses_the_library_optimizers():
    SGD, Adagrad, RMSprop, Adam = _library_optimizers()
    lineup = default_optimizers("taco")
    assert [lineup[name][0] for name in ("SGD", "AdaGrad", "RMSProp", "Adam")] == [SGD, Adagrad, RMSprop, Adam]
    assert lineup["Nesterov"][1] == {"lr": 0.1, "momentum": 0.9, "nesterov": True}
