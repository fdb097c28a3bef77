"""Quantities parse, print and compare exactly as Kubernetes' resource.Quantity does."""

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from hcs_api import Quantity, QuantityError, QuantityFormat

# (input, canonical string Kubernetes serialises, exact value)
CANONICAL = [
    ("16Gi", "16Gi", Decimal(16 * 1024**3)),
    ("1.5Gi", "1536Mi", Decimal(1536 * 1024**2)),
    ("0.5Ki", "512", Decimal(512)),
    ("1536", "1536", Decimal(1536)),
    ("1.5", "1500m", Decimal("1.5")),
    ("500m", "500m", Decimal("0.5")),
    ("5300m", "5300m", Decimal("5.3")),
    ("1000", "1k", Decimal(1000)),
    ("1000m", "1", Decimal(1)),
    ("1500", "1500", Decimal(1500)),
    ("5G", "5G", Decimal(5 * 10**9)),
    ("1e3", "1e3", Decimal(1000)),
    ("12e6", "12e6", Decimal(12 * 10**6)),
    ("1.5e-3", "1500e-6", Decimal("0.0015")),
    ("0.0000000001", "1n", Decimal("1e-9")),
    ("-1.5", "-1500m", Decimal("-1.5")),
    ("+3", "3", Decimal(3)),
    (".5", "500m", Decimal("0.5")),
    ("5.", "5", Decimal(5)),
    ("0", "0", Decimal(0)),
    ("0Gi", "0", Decimal(0)),
    ("1Ei", "1Ei", Decimal(1024**6)),
    ("1e21", "1e21", Decimal(10**21)),
]


@pytest.mark.parametrize(("text", "canonical", "value"), CANONICAL, ids=[c[0] for c in CANONICAL])
def test_parses_exactly_and_prints_canonical_form(text, canonical, value):
    quantity = Quantity(text)
    assert quantity.value == value
    assert str(quantity) == canonical


@pytest.mark.parametrize(("text", "canonical", "value"), CANONICAL, ids=[c[0] for c in CANONICAL])
def test_canonical_form_round_trips(text, canonical, value):
    again = Quantity(str(Quantity(text)))
    assert again.value == value
    assert str(again) == canonical


GARBAGE = [
    "",
    " 1",
    "1 ",
    "abc",
    "1.2.3",
    "16GiB",
    "16gi",
    "1K",
    "e3",
    "--1",
    "1e",
    "1e3.5",
    "Gi",
    "0x10",
    "1_000",
]


@pytest.mark.parametrize("text", GARBAGE, ids=[repr(g) for g in GARBAGE])
def test_rejects_garbage_naming_the_value(text):
    with pytest.raises(QuantityError, match=repr(text).replace("\\", "\\\\").replace(".", r"\.")):
        Quantity(text)


def test_rejects_non_quantity_types():
    with pytest.raises(QuantityError, match="boolean"):
        Quantity(True)
    with pytest.raises(QuantityError, match="list"):
        Quantity([1])  # type: ignore[arg-type]


def test_a_deeply_nested_value_is_refused_by_its_type_not_printed():
    # The message used to repr() the value: 990 nested lists (which JSON decoders accept)
    # raised RecursionError, an HTTP 500 in the extender.
    deep: list[object] = []
    for _ in range(990):
        deep = [deep]
    with pytest.raises(QuantityError, match=r"^a list is not a quantity$"):
        Quantity(deep)  # type: ignore[arg-type]


def test_finer_than_nano_rounds_up_like_kubernetes():
    assert Quantity("1.0000000001").value == Decimal("1.000000001")
    assert Quantity("-0.0000000001").value == Decimal("-1e-9")


def test_huge_exponent_is_an_error_not_a_crash():
    with pytest.raises(QuantityError, match="out of the range"):
        Quantity("1e999999999")


@pytest.mark.parametrize(
    "value",
    [1e71, 1.7976931348623157e308, 10**80, -(10**80), Decimal("1e71")],
    ids=["float-1e71", "float-max", "int-1e80", "int-minus-1e80", "decimal-1e71"],
)
def test_numbers_beyond_the_range_are_errors_like_the_same_text(value):
    # Issue 20: a JSON number of 1e71 or more raised decimal.InvalidOperation (an HTTP 500 in
    # both servers); the same value written as a string was already a QuantityError.
    with pytest.raises(QuantityError, match="out of the range of a quantity"):
        Quantity(value)
    with pytest.raises(QuantityError, match="out of the range of a quantity"):
        Quantity(str(value))


def test_compares_by_value_across_formats():
    assert Quantity("1Ki") == Quantity("1024")
    assert Quantity("1G") < Quantity("1Gi")
    assert Quantity("1500m") == Quantity("1.5")
    assert len({Quantity("1k"), Quantity("1000"), Quantity("1e3")}) == 1


def test_arithmetic_keeps_the_format():
    assert str(Quantity("16Gi") + Quantity("16Gi")) == "32Gi"
    assert str(Quantity("80Gi") - Quantity("16Gi")) == "64Gi"
    assert str(Quantity("989.5") * 8) == "7916"


def test_from_value_formats_bytes_as_binary():
    assert str(Quantity.from_value(17179869184, QuantityFormat.BINARY_SI)) == "16Gi"
    assert Quantity("2.5").ceil() == 3


class _Holder(BaseModel):
    amount: Quantity


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("16Gi", "16Gi"), (1024, "1024"), (1.5, "1500m"), (1e3, "1k"), (Quantity("2Mi"), "2Mi")],
    ids=["string", "int", "float", "float-exponent", "quantity"],
)
def test_pydantic_field_accepts_int_or_string_and_serialises_canonical(raw, expected):
    holder = _Holder(amount=raw)
    assert holder.model_dump(mode="json") == {"amount": expected}
    assert _Holder.model_validate_json(holder.model_dump_json()).amount == holder.amount


def test_pydantic_field_error_names_the_bad_value():
    with pytest.raises(ValidationError, match="'lots' is not a Kubernetes quantity"):
        _Holder(amount="lots")


def test_memoised_parsing_gives_equal_values_and_never_remembers_an_error():
    # Parsing is memoised by text (the scheduler reads the same few quantities endlessly).
    assert Quantity("16Gi") == Quantity("16Gi") == Quantity(16 * 1024**3)
    assert Quantity("16Gi").format is QuantityFormat.BINARY_SI
    for _ in range(2):
        with pytest.raises(QuantityError, match="'16Gx' is not a Kubernetes quantity"):
            Quantity("16Gx")
