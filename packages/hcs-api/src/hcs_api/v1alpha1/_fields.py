"""Constrained quantity types shared by the CRD models."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from hcs_api._quantity import Quantity


def _non_negative(value: Quantity) -> Quantity:
    if value.value < 0:
        raise ValueError(f"{value} is negative; it must be zero or more")
    return value


def _whole_non_negative(value: Quantity) -> Quantity:
    _non_negative(value)
    if not value.is_integer():
        raise ValueError(f"{value} is not a whole number")
    return value


NonNegativeQuantity = Annotated[Quantity, AfterValidator(_non_negative)]
"""A quantity of zero or more (throughput in TFLOPS, bandwidth in bytes/s, latency in seconds)."""
ByteQuantity = Annotated[Quantity, AfterValidator(_whole_non_negative)]
"""A whole number of bytes (16Gi)."""
