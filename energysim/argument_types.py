"""argparse value types shared by the CLI's sub-command modules (errors become one-line exit-2 messages)."""

from __future__ import annotations

import argparse


def count(minimum: int):
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum} (got {text!r})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum} (got {value})")
        return value

    return parse


def fraction_of_dense(text: str) -> float:
    """An argparse type: a budget as a fraction of dense, in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a fraction of dense in (0, 1] (got {text!r})") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction of dense in (0, 1] (got {value:g})")
    return value


SEED_LIMIT = 2**32
"""Seeds NumPy's legacy generators and scikit-learn take: integers in [0, 2**32)."""


def seed(text: str) -> int:
    """An argparse type: a seed, an integer in [0, 2**32) (a larger one is refused up front, not after training)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 and < 2**32 (got {text!r})") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 and < 2**32 (got {value})")
    return value
