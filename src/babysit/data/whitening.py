"""PCA, PCA whitening and ZCA whitening, fitted on the training set only.

All three center the data with the training mean and diagonalize the training covariance
``C = Xc^T Xc / N`` (``Xc`` the centered, flattened training data; ``1/N`` as in the
lecture's recipe): ``C = U diag(S) U^T`` with eigenvalues ``S`` in decreasing order.

- PCA: ``z = Xc U_k`` (decorrelated, ``k`` components).
- PCA whitening: ``z = Xc U_k / sqrt(S_k + eps)`` (covariance ~ identity).
- ZCA whitening: ``z = Xc U diag(1/sqrt(S + eps)) U^T`` (covariance ~ identity, and the
  result stays as close as possible to the input: images still look like images).

``eps`` keeps directions of (near) zero variance from being blown up; the covariance of
whitened training data is ``S / (S + eps)``, the identity up to ``eps / S``.
"""

from __future__ import annotations

import numpy as np

from babysit.data.preprocessing import Preprocessor, chunks
from babysit.errors import InputError


class PCA(Preprocessor):
    """Project onto the training data's principal components.

    Parameters
    ----------
    n_components : int, float in (0, 1], or None
        Number of components kept; a float keeps the fewest components whose explained
        variance reaches that fraction of the total; ``None`` keeps all ``D``.

    Attributes (after fit)
    ----------------------
    mean : (D,)  components : (k, D), rows are unit eigenvectors  explained_variance : (k,)
    total_variance : () the trace of the covariance. ``explained_variance_ratio`` is their quotient.

    ``transform`` maps ``(N, ...)`` to ``(N, k)``; ``inverse_transform`` maps back to ``(N, ...)``.
    """

    params = ("n_components",)
    fitted = ("mean", "components", "explained_variance", "total_variance")

    def __init__(self, n_components: int | float | None = None):
        super().__init__()
        self.n_components = _check_components(n_components, type(self).__name__)
        self.mean = self.components = self.explained_variance = self.total_variance = None

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        self._require_fitted()
        return self.explained_variance / self.total_variance

    def _fit(self, x):
        flat = x.reshape(len(x), -1)
        self.mean = flat.mean(axis=0, dtype=np.float64)
        covariance = np.zeros((flat.shape[1], flat.shape[1]))
        for chunk in chunks(flat):
            chunk -= self.mean
            covariance += chunk.T @ chunk
        covariance /= len(flat)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        eigenvalues, eigenvectors = np.clip(eigenvalues[::-1], 0.0, None), eigenvectors[:, ::-1]
        # sign convention (as scikit-learn's svd_flip): each component's largest entry is positive
        largest = np.argmax(np.abs(eigenvectors), axis=0)
        eigenvectors *= np.sign(eigenvectors[largest, np.arange(eigenvectors.shape[1])])
        k = self._count(eigenvalues, flat.shape[1])
        self.components = np.ascontiguousarray(eigenvectors[:, :k].T)
        self.explained_variance = eigenvalues[:k]
        self.total_variance = np.asarray(eigenvalues.sum())

    def _count(self, eigenvalues: np.ndarray, features: int) -> int:
        n = self.n_components
        if n is None:
            return features
        if isinstance(n, float):  # a fraction of the variance
            ratio = np.cumsum(eigenvalues) / max(eigenvalues.sum(), np.finfo(float).tiny)
            return int(min(np.searchsorted(ratio, n - 1e-12) + 1, features))
        if n > features:
            raise InputError(
                type(self).__name__, f"n_components={n} exceeds the {features} features of the training data"
            )
        return n

    def _project(self, x, dtype):
        flat = x.reshape(len(x), -1).astype(dtype, copy=False)
        return (flat - self.mean.astype(dtype)) @ self.components.T.astype(dtype)

    def _transform(self, x, dtype):
        return self._project(x, dtype)

    def _inverse(self, z, dtype):
        z = self._check_reduced(z)
        flat = z.astype(dtype, copy=False) @ self.components.astype(dtype) + self.mean.astype(dtype)
        return flat.reshape(len(z), *self.sample_shape)

    def _check_reduced(self, z: np.ndarray) -> np.ndarray:
        k = len(self.components)
        if z.ndim != 2 or z.shape[1] != k:
            raise InputError(type(self).__name__, f"inverse_transform expects shape (N, {k}); received {z.shape}")
        return z


class PCAWhitening(PCA):
    """PCA followed by dividing each component by ``sqrt(variance + eps)``: output ``(N, k)``.

    Parameters
    ----------
    n_components : as in :class:`PCA`
    eps : float
        Added to each variance before the square root (default 1e-5, the lecture's).
    """

    params = ("n_components", "eps")

    def __init__(self, n_components: int | float | None = None, eps: float = 1e-5):
        super().__init__(n_components)
        self.eps = _check_eps(eps, type(self).__name__)

    def _transform(self, x, dtype):
        return self._project(x, dtype) / np.sqrt(self.explained_variance + self.eps).astype(dtype)

    def _inverse(self, z, dtype):
        z = self._check_reduced(z)
        return super()._inverse(z * np.sqrt(self.explained_variance + self.eps).astype(dtype), dtype)


class ZCAWhitening(PCA):
    """Zero-phase (Mahalanobis) whitening: PCA-whiten, then rotate back. Output shape = input shape.

    ``W = U diag(1 / sqrt(S + eps)) U^T`` is symmetric, so among all whitening transforms it
    changes the data least (Bell & Sejnowski 1997); used on CIFAR-10 by Krizhevsky (2009).
    """

    params = ("eps",)

    def __init__(self, eps: float = 1e-5):
        super().__init__(None)
        self.eps = _check_eps(eps, type(self).__name__)
        self.matrix = self.inverse_matrix = None

    def _prepare(self):
        scale = np.sqrt(self.explained_variance + self.eps)
        self.matrix = (self.components.T / scale) @ self.components
        self.inverse_matrix = (self.components.T * scale) @ self.components

    def _transform(self, x, dtype):
        flat = x.reshape(len(x), -1).astype(dtype, copy=False) - self.mean.astype(dtype)
        return (flat @ self.matrix.astype(dtype)).reshape(x.shape)

    def _inverse(self, z, dtype):
        if tuple(z.shape[1:]) != self.sample_shape:
            raise InputError(
                type(self).__name__, f"inverse_transform expects (N, *{self.sample_shape}); received {z.shape}"
            )
        flat = z.reshape(len(z), -1).astype(dtype, copy=False) @ self.inverse_matrix.astype(dtype)
        return (flat + self.mean.astype(dtype)).reshape(z.shape)


def _check_components(n, where: str):
    if n is None:
        return None
    if isinstance(n, (bool, np.bool_)):
        raise ValueError(f"{where}: n_components must be None, a positive int or a fraction in (0, 1]; got {n!r}")
    if isinstance(n, (int, np.integer)) and n >= 1:
        return int(n)
    if isinstance(n, (float, np.floating)) and 0.0 < n <= 1.0:
        return float(n)
    raise ValueError(f"{where}: n_components must be None, a positive int or a fraction in (0, 1]; got {n!r}")


def _check_eps(eps, where: str) -> float:
    if not isinstance(eps, (int, float, np.integer, np.floating)) or not np.isfinite(eps) or eps < 0:
        raise ValueError(f"{where}: eps must be a finite number >= 0; got {eps!r}")
    return float(eps)
