"""Initializers: the statistics their formulas promise, orthogonality, LSUV's unit variance."""

import math

import numpy as np
import pytest

from babysit import init, nn


@pytest.mark.parametrize(
    ("initializer", "expected_std"),
    [
        (init.normal(0.01), 0.01),
        (init.xavier_normal(), math.sqrt(2 / (400 + 300))),
        (init.xavier_normal(mode="in"), 1 / math.sqrt(400)),
        (init.xavier_uniform(), math.sqrt(6 / 700) / math.sqrt(3)),
        (init.he_normal(), math.sqrt(2 / 400)),
        (init.he_normal(negative_slope=0.5), math.sqrt(2 / (1.25 * 400))),
        (init.he_normal(mode="fan_out"), math.sqrt(2 / 300)),
        (init.he_uniform(), math.sqrt(2 / 400)),
    ],
)
def test_initializer_std_matches_formula(initializer, expected_std):
    weights = initializer((300, 400), fan_in=400, fan_out=300, rng=0)
    assert weights.dtype == np.float32
    assert abs(weights.mean()) < 0.01 * expected_std * 10
    assert weights.std() == pytest.approx(expected_std, rel=0.02)


def test_uniform_initializers_stay_in_their_bounds():
    limit = math.sqrt(6 / 700)
    weights = init.xavier_uniform()((300, 400), fan_in=400, fan_out=300, rng=0)
    assert np.abs(weights).max() <= limit


def test_zeros_and_constant():
    assert not init.zeros()((3, 2)).any()
    np.testing.assert_array_equal(init.constant(0.01)((2,)), np.float32(0.01))


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (8, 3, 3, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    matrix = init.orthogonal()(shape, rng=1, dtype=np.float64).reshape(shape[0], -1)
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-12)


def test_layers_accept_names_and_callables():
    assert nn.Linear(4, 3, init="zeros").weight.data.sum() == 0
    layer = nn.Linear(4, 3, init=init.constant(2.0))
    np.testing.assert_array_equal(layer.weight.data, 2.0)
    with pytest.raises(ValueError, match="returned shape"):
        nn.Linear(4, 3, init=lambda shape, **_: np.zeros((2, 2)))


def test_same_seed_same_weights():
    first = init.he_normal()((5, 5), fan_in=5, fan_out=5, rng=3)
    second = init.he_normal()((5, 5), fan_in=5, fan_out=5, rng=3)
    assert first.tobytes() == second.tobytes()


def test_lsuv_gives_unit_output_variance_per_layer():
    rng = np.random.default_rng(0)
    model = nn.Sequential(*[m for _ in range(6) for m in (nn.Linear(100, 100, init="normal", rng=rng), nn.Tanh())])
    x = rng.standard_normal((500, 100)).astype(np.float32)
    reached = init.lsuv(model, x, rng=1)
    assert set(reached) == {str(2 * i) for i in range(6)}
    for name, variance in reached.items():
        assert variance == pytest.approx(1.0, abs=0.1), name
    assert model.training  # mode restored


def test_lecture_experiment_small_init_collapses_and_he_keeps_relu_alive():
    """CS231n: 10 layers of 500 units, unit Gaussian input. 0.01*randn collapses, He keeps the scale."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 500)).astype(np.float32)

    def last_std(initializer):
        layers = [m for _ in range(10) for m in (nn.Linear(500, 500, init=initializer, rng=rng), nn.ReLU())]
        return float(nn.Sequential(*layers)(x).std())

    assert last_std("normal") < 1e-6
    assert 0.3 < last_std("he") < 3.0
