"""The bundled data set: scikit-learn's handwritten digits, split and scaled.

The digits ship with scikit-learn (no download): 1,797 grey-scale 8x8 images of
the digits 0-9, pixel values 0..16. We scale pixels to [0, 1] and keep the image
shape, so every model takes inputs of shape (samples, 1, 8, 8).

The train/test split is stratified by class and fixed by ``split_seed``
(default 0): 80 % train (1,437 images), 20 % test (360 images). The calibration
set used for activation statistics (APoZ, regression, export) is a seeded
sample of the *training* images, never test images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energysim.errors import InputError

DIGITS_PIXEL_MAX = 16.0
"""Largest pixel value in scikit-learn's digits (4-bit grey levels)."""

DIGITS_CLASSES = 10
"""Number of classes (the digits 0 to 9)."""


@dataclass(frozen=True)
class Dataset:
    """A train/test split of images and integer labels.

    Attributes
    ----------
    x_train, x_test
        Images, float64 in [0, 1], shape (samples, 1, 8, 8).
    y_train, y_test
        Integer class labels 0..9, shape (samples,).
    name
        Data-set name, recorded in provenance.
    split_seed
        Seed of the stratified split.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "sklearn-digits-8x8"
    split_seed: int = 0

    @property
    def classes(self) -> int:
        """Number of classes."""
        return DIGITS_CLASSES

    def calibration(self, samples: int = 64, seed: int = 0) -> np.ndarray:
        """A seeded sample of training images for activation statistics.

        Parameters
        ----------
        samples
            Number of images (1 .. number of training images).
        seed
            Seed of the sample.

        Returns
        -------
        numpy.ndarray
            Images of shape (samples, 1, 8, 8), drawn without replacement.
        """
        total = len(self.x_train)
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or not 1 <= samples <= total:
            raise InputError(f"calibration samples must be in [1, {total}] (got {samples!r})")
        _check_seed("calibration seed", seed)
        order = np.random.default_rng(seed).permutation(total)[:samples]
        return self.x_train[np.sort(order)]


def load_digits_dataset(split_seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """Load scikit-learn's bundled digits with a seeded stratified split.

    Parameters
    ----------
    split_seed
        Seed of the stratified train/test split.
    test_fraction
        Fraction of images held out for testing, in (0, 1).

    Returns
    -------
    Dataset
        Pixels scaled to [0, 1], images of shape (samples, 1, 8, 8).
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1) (got {test_fraction})")
    _check_seed("split seed", split_seed)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = (bunch.images.astype(np.float64) / DIGITS_PIXEL_MAX)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=split_seed
    )
    return Dataset(
        x_train=np.ascontiguousarray(x_train),
        y_train=y_train,
        x_test=np.ascontiguousarray(x_test),
        y_test=y_test,
        split_seed=split_seed,
    )


def _check_seed(what: str, seed) -> None:
    """Refuse a seed NumPy and scikit-learn cannot take: a negative number, a boolean, a float."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"{what} must be an integer in [0, 2**32) (got {seed!r})")
