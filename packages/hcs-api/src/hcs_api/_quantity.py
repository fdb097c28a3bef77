"""Kubernetes resource quantities (`16Gi`, `1.5`, `500m`, `1e3`), exact and round-tripping.

Parsing and the canonical form follow k8s.io/apimachinery's `resource.Quantity`: a signed
decimal number with an optional binary-SI suffix (Ki..Ei), decimal-SI suffix (n..E) or decimal
exponent (e3); the value is kept exactly as a Decimal; more precision than 1n is rounded up, as
Kubernetes does. `str()` gives the canonical form Kubernetes would serialise: the format of the
input is kept, no fractional digits, the largest suffix that loses nothing ("1.5" -> "1500m",
"1.5Gi" -> "1536Mi", "1000" -> "1k").
"""

from __future__ import annotations

import decimal
import enum
import functools
import math
import re
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from hcs_api.errors import QuantityError, a_type

# The grammar of a quantity, as Kubernetes parses it (integer exponents only).
_QUANTITY_RE = re.compile(
    r"^(?P<sign>[+-])?(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
# The same grammar for OpenAPI (the pattern Kubernetes publishes for int-or-string quantities).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DECIMAL_SUFFIX_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_NANO = Decimal("1e-9")
# Wide enough for any quantity Kubernetes accepts (it caps the mantissa, we do not need to).
_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_UP, traps=[decimal.InvalidOperation])


class QuantityFormat(enum.Enum):
    """How a quantity was written; the canonical form keeps it."""

    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"
    DECIMAL_EXPONENT = "DecimalExponent"


class Quantity:
    """An exact Kubernetes quantity. Immutable, hashable, ordered by value."""

    __slots__ = ("_format", "_value")
    _format: QuantityFormat
    _value: Decimal

    PATTERN: ClassVar[str] = QUANTITY_PATTERN

    def __init__(self, value: str | int | float | Decimal | Quantity, /) -> None:
        if isinstance(value, Quantity):
            self._value, self._format = value._value, value._format
            return
        try:
            self._value, self._format = _convert(value)
        except decimal.DecimalException:
            # Past what the exact context holds with nine decimals (about 1e71), whether the
            # value came as text or as a JSON number.
            raise QuantityError(f"{value!r} is out of the range of a quantity") from None

    @classmethod
    def from_value(cls, value: Decimal | int, fmt: QuantityFormat) -> Quantity:
        """A quantity of `value` printed in `fmt` (bytes as BinarySI: 17179869184 -> 16Gi)."""
        quantity = cls(Decimal(value))
        quantity._format = fmt
        return quantity

    @property
    def value(self) -> Decimal:
        """The exact value."""
        return self._value

    @property
    def format(self) -> QuantityFormat:
        return self._format

    def is_integer(self) -> bool:
        return self._value == self._value.to_integral_value()

    def ceil(self) -> int:
        """The value rounded up to a whole number, as Kubernetes' `Quantity.Value()` does."""
        return math.ceil(self._value)

    def __str__(self) -> str:
        return _canonical(self._value, self._format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._value == other._value
        return NotImplemented

    def __lt__(self, other: Quantity) -> bool:
        return self._value < other._value

    def __le__(self, other: Quantity) -> bool:
        return self._value <= other._value

    def __gt__(self, other: Quantity) -> bool:
        return self._value > other._value

    def __ge__(self, other: Quantity) -> bool:
        return self._value >= other._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity.from_value(_CONTEXT.add(self._value, other._value), self._format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity.from_value(_CONTEXT.subtract(self._value, other._value), self._format)

    def __mul__(self, factor: int) -> Quantity:
        return Quantity.from_value(_CONTEXT.multiply(self._value, Decimal(factor)), self._format)

    def __bool__(self) -> bool:
        return self._value != 0

    # -- pydantic integration: accepts str | int | Quantity, serialises to the canonical string.

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }


def _convert(value: object) -> tuple[Decimal, QuantityFormat]:
    """The exact value and format of a str, int, float or Decimal; DecimalException when the
    value is beyond the context's precision, QuantityError when it is no quantity at all."""
    if isinstance(value, str):
        return _parse(value)
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity (a boolean)")
    if isinstance(value, int):
        return _round_to_nano(Decimal(value)), QuantityFormat.DECIMAL_SI
    if isinstance(value, float):
        # JSON numbers such as 1.5 arrive as floats; their shortest repr is what was written.
        if not math.isfinite(value):
            raise QuantityError(f"{value} is not a quantity (not finite)")
        return _parse(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise QuantityError(f"{value} is not a quantity (not finite)")
        return _round_to_nano(value), QuantityFormat.DECIMAL_SI
    raise _not_a_quantity(value)


def _not_a_quantity(value: object) -> QuantityError:
    return QuantityError(f"{a_type(value)} is not a quantity")


def _validate(value: object) -> Quantity:
    if isinstance(value, str | int | float | Decimal | Quantity):
        return Quantity(value)
    raise _not_a_quantity(value)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Decimal, QuantityFormat]:
    """Memoised: a cluster's objects repeat a few quantities ("16Gi", "80Gi") endlessly, and the
    scheduler reads every pod's on every request. Results are immutable; errors are not kept."""
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise QuantityError(
            f"{text!r} is not a Kubernetes quantity: expected a number with an optional suffix, "
            "such as 16Gi, 500m, 1.5 or 1e3"
        )
    number = Decimal(match["number"])
    if match["sign"] == "-":
        number = -number
    suffix = match["suffix"] or ""
    if suffix in _BINARY_SUFFIXES:
        value = _CONTEXT.multiply(number, Decimal(1024) ** _BINARY_SUFFIXES[suffix])
        fmt = QuantityFormat.BINARY_SI
    elif suffix[:1] in ("e", "E") and len(suffix) > 1:  # "E" alone is the exa suffix
        value = _CONTEXT.multiply(number, _CONTEXT.power(Decimal(10), int(suffix[1:])))
        fmt = QuantityFormat.DECIMAL_EXPONENT
    else:
        value = _CONTEXT.multiply(number, _CONTEXT.power(Decimal(10), _DECIMAL_SUFFIXES[suffix]))
        fmt = QuantityFormat.DECIMAL_SI
    return _round_to_nano(value), fmt


def _round_to_nano(value: Decimal) -> Decimal:
    """Kubernetes keeps nine decimal places and rounds anything finer up (away from zero)."""
    rounded = value.quantize(_NANO, rounding=decimal.ROUND_UP, context=_CONTEXT)
    return rounded.normalize(_CONTEXT) if rounded else Decimal(0)


def _canonical(value: Decimal, fmt: QuantityFormat) -> str:
    if value == 0:
        return "0"
    if (
        fmt is QuantityFormat.BINARY_SI
        and abs(value) >= 1024
        and value == value.to_integral_value()
    ):
        return _canonical_binary(int(value))
    mantissa, exponent = _decimal_mantissa(value)
    if fmt is QuantityFormat.DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    while exponent > 18:  # no suffix above E: carry the rest in the mantissa
        mantissa, exponent = mantissa * 1000, exponent - 3
    return f"{mantissa}{_DECIMAL_SUFFIX_BY_EXPONENT[exponent]}"


def _canonical_binary(value: int) -> str:
    power = 0
    while power < 6 and value % 1024 == 0:
        value //= 1024
        power += 1
    suffix = {0: ""} | {p: s for s, p in _BINARY_SUFFIXES.items()}
    return f"{value}{suffix[power]}"


def _decimal_mantissa(value: Decimal) -> tuple[int, int]:
    """The integer mantissa and the largest exponent (a multiple of 3, >= -9) keeping it exact."""
    exponent = -9
    mantissa = int(_CONTEXT.scaleb(value, 9))
    while mantissa % 1000 == 0:
        mantissa //= 1000
        exponent += 3
    return mantissa, exponent
