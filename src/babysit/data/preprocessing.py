"""Preprocessing with scikit-learn's habits: ``fit`` on the training set only, then
``transform`` training, validation and test data with the training statistics.

Every preprocessor saves without pickle: :meth:`Preprocessor.get_state` gives its
constructor arguments (JSON) and fitted arrays, :meth:`Preprocessor.from_state` rebuilds
it, and :func:`save_preprocessor` / :func:`load_preprocessor` store that state with
:func:`babysit.serialization.save_arrays`. A fitted preprocessor is also a DataLoader
transform: ``p(x, y, rng) -> (p.transform(x), y)``.

For images the recommended recipe is the lecture's: **center only** (``ZeroCenter()``,
subtracting the mean image, or ``ZeroCenter(per="channel")``); scaling, PCA and whitening
are rarely needed for convolutional networks.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from babysit.backend import DEFAULT_DTYPE
from babysit.data._checks import as_array, check_finite
from babysit.errors import CheckpointError, InputError

#: Every Preprocessor subclass by class name: :meth:`Preprocessor.from_state` only builds these.
PREPROCESSOR_REGISTRY: dict[str, type[Preprocessor]] = {}
_PER = ("feature", "image", "channel")


class Preprocessor:
    """Base class: ``fit(x_train)``, ``transform(x)``, ``fit_transform``, ``inverse_transform``.

    Subclasses list their constructor arguments in ``params`` and their fitted arrays in
    ``fitted``, and implement ``_fit`` and ``_transform`` (and ``_inverse`` where it exists).
    ``x`` is a batch ``(N, ...)``; the statistics are computed in float64 and the output keeps
    a floating input's dtype (integer input, e.g. uint8 pixels, gives float32).
    """

    params: ClassVar[tuple[str, ...]] = ()
    fitted: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        PREPROCESSOR_REGISTRY[cls.__name__] = cls

    def __init__(self):
        self.sample_shape: tuple[int, ...] | None = None

    @property
    def is_fitted(self) -> bool:
        return self.sample_shape is not None

    def fit(self, x) -> Preprocessor:
        """Learn the statistics of the training data ``x`` (N, ...); returns ``self``."""
        x = self._input(x, fitting=True)
        if len(x) < 2:
            raise InputError(type(self).__name__, f"fit needs at least 2 samples; received shape {x.shape}")
        self._fit(x)
        self.sample_shape = tuple(x.shape[1:])
        self._prepare()
        return self

    def transform(self, x) -> np.ndarray:
        """Apply the statistics learned by :meth:`fit` to ``x`` (N, *sample_shape)."""
        x = self._input(x, fitting=False)
        return self._transform(x, _output_dtype(x))

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, z) -> np.ndarray:
        """Map transformed data back to the input space (lossy after dimension reduction)."""
        self._require_fitted()
        z = as_array(z, type(self).__name__)
        return self._inverse(z, _output_dtype(z))

    def __call__(self, x, y=None, rng=None):
        """DataLoader protocol: ``(x, y, rng) -> (transform(x), y)``."""
        return self.transform(x), y

    def get_state(self) -> dict:
        """``{"class": name, "params": {JSON}, "arrays": {name: ndarray}}``; see :meth:`from_state`."""
        self._require_fitted()
        params = {name: _jsonable(getattr(self, name)) for name in self.params}
        params["sample_shape"] = list(self.sample_shape)
        arrays = {name: np.array(getattr(self, name)) for name in self.fitted}  # copies
        return {"class": type(self).__name__, "params": params, "arrays": arrays}

    def set_state(self, state: dict) -> Preprocessor:
        """Load fitted arrays from :meth:`get_state`'s dict into this (same-class) instance."""
        if state.get("class") != type(self).__name__:
            raise ValueError(f"state is for {state.get('class')!r}, not {type(self).__name__}")
        missing = sorted(set(self.fitted) - set(state["arrays"]))
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks arrays {missing}")
        for name in self.fitted:
            setattr(self, name, np.asarray(state["arrays"][name], dtype=np.float64))
        self.sample_shape = tuple(state["params"]["sample_shape"])
        self._prepare()
        return self

    @classmethod
    def from_state(cls, state: dict) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`get_state`'s dict (only registered classes)."""
        name = state.get("class")
        if name not in PREPROCESSOR_REGISTRY:
            raise ValueError(f"unknown preprocessor class {name!r}; known: {sorted(PREPROCESSOR_REGISTRY)}")
        target = PREPROCESSOR_REGISTRY[name]
        if not issubclass(target, cls):
            raise ValueError(f"state is for {name}, not a {cls.__name__}")
        params = {key: value for key, value in state["params"].items() if key in target.params}
        return target(**params).set_state(state)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.params)
        return f"{type(self).__name__}({arguments})"

    # -- helpers for subclasses ---------------------------------------------------------------

    def _input(self, x, *, fitting: bool) -> np.ndarray:
        where = type(self).__name__
        x = as_array(x, where)
        if not fitting:
            self._require_fitted()
            if tuple(x.shape[1:]) != self.sample_shape:
                raise InputError(
                    where,
                    f"was fitted on samples of shape {self.sample_shape}, expected input (N, "
                    f"{', '.join(map(str, self.sample_shape))}); received shape {x.shape}",
                )
        check_finite(x, where)
        return x

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(x_train) first")

    def _fit(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Derive cached quantities from the fitted arrays (after fit and after loading)."""

    def _transform(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        raise NotImplementedError

    def _inverse(self, z: np.ndarray, dtype: np.dtype) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no inverse")


class ZeroCenter(Preprocessor):
    """Subtract the training mean: per feature (the mean image, AlexNet) or per channel (VGG).

    Parameters
    ----------
    per : {"feature", "image", "channel"}
        ``"feature"`` (default; ``"image"`` is the same thing for images): one mean per
        input value, of shape ``x.shape[1:]``. ``"channel"``: one mean per channel (axis 1),
        averaged over samples and positions, for ``(N, C, H, W)`` or ``(N, C, L)``.

    Notes
    -----
    The lecture's default for images: center only, ``x - mean(x_train)``.
    """

    params = ("per",)
    fitted = ("mean",)

    def __init__(self, per: str = "feature"):
        super().__init__()
        self.per = _check_per(per, type(self).__name__)
        self.mean = None

    def _fit(self, x):
        self.mean = _mean(x, self.per)

    def _transform(self, x, dtype):
        return x.astype(dtype, copy=False) - self.mean.astype(dtype)

    def _inverse(self, z, dtype):
        return z.astype(dtype, copy=False) + self.mean.astype(dtype)


class Standardize(Preprocessor):
    """Subtract the training mean and divide by the training standard deviation.

    ``per`` as in :class:`ZeroCenter`. A feature (or channel) with zero variance in the
    training data is only centered (its scale is taken as 1), as scikit-learn's StandardScaler.
    """

    params = ("per",)
    fitted = ("mean", "scale")

    def __init__(self, per: str = "feature"):
        super().__init__()
        self.per = _check_per(per, type(self).__name__)
        self.mean = self.scale = None

    def _fit(self, x):
        self.mean = _mean(x, self.per)
        variance = _mean_square_deviation(x, self.mean, self.per)
        self.scale = np.where(variance > 0, np.sqrt(variance), 1.0)

    def _transform(self, x, dtype):
        return (x.astype(dtype, copy=False) - self.mean.astype(dtype)) / self.scale.astype(dtype)

    def _inverse(self, z, dtype):
        return z.astype(dtype, copy=False) * self.scale.astype(dtype) + self.mean.astype(dtype)


def save_preprocessor(path, preprocessor: Preprocessor) -> None:
    """Save a fitted preprocessor's state (no pickle; see :func:`babysit.serialization.save_arrays`)."""
    from babysit.serialization import save_arrays

    state = preprocessor.get_state()
    save_arrays(path, state["arrays"], {"kind": "preprocessor", "class": state["class"], "params": state["params"]})


def load_preprocessor(path) -> Preprocessor:
    """Rebuild a preprocessor saved with :func:`save_preprocessor`."""
    from babysit.serialization import load_arrays

    arrays, document = load_arrays(path)
    if document.get("kind") != "preprocessor":
        raise CheckpointError(f"{path}: holds a {document.get('kind')!r}, not a preprocessor")
    try:
        return Preprocessor.from_state({"class": document["class"], "params": document["params"], "arrays": arrays})
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: cannot rebuild the preprocessor: {error}") from error


def _check_per(per: str, where: str) -> str:
    if per not in _PER:
        raise ValueError(f"{where}: per must be one of {_PER}; got {per!r}")
    return per


def _mean(x: np.ndarray, per: str) -> np.ndarray:
    """Mean over samples (``per="feature"``) or over samples and positions (``"channel"``), float64."""
    if per == "channel":
        if x.ndim < 2:
            raise InputError("per='channel'", f"needs (N, C, ...) data; received shape {x.shape}")
        axes = (0, *range(2, x.ndim))
        return x.mean(axis=axes, dtype=np.float64, keepdims=True)[0]
    return x.mean(axis=0, dtype=np.float64)


def _mean_square_deviation(x: np.ndarray, mean: np.ndarray, per: str) -> np.ndarray:
    """Variance about ``mean`` in float64, accumulated over chunks of rows (no float64 copy of ``x``)."""
    total = np.zeros_like(mean)
    for chunk in chunks(x):
        deviation = chunk - mean
        deviation *= deviation
        total += _mean(deviation, per) * len(chunk)
    return total / len(x)


def chunks(x: np.ndarray, elements: int = 1 << 22):
    """Float64 copies of consecutive row blocks of ``x``, about ``elements`` values each."""
    step = max(1, elements // max(1, int(np.prod(x.shape[1:], dtype=np.int64))))
    for start in range(0, len(x), step):
        yield x[start : start + step].astype(np.float64)


def _output_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if x.dtype.kind == "f" else DEFAULT_DTYPE


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value
