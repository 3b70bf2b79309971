"""``generate_secret`` (1.0's import path) and the ``print_secret`` console script."""

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from ._core import generate_secret

__all__ = ["generate_secret", "print_secret"]


def print_secret(argv: Optional[Sequence[str]] = None) -> int:
    """Print a new random 32-byte secret, hex encoded, to standard output."""
    parser = argparse.ArgumentParser(
        prog="print_secret",
        description="Print a new random 32-byte secret as 64 hex digits, for session.secret.",
    )
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(generate_secret().decode("ascii"))
    return 0
