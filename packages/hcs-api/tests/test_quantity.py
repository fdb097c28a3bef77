"""Quantities parse, print and compare exactly as Kubernetes' resource.Quantity does."""

from decimal import Decimal

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

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
    ("1Ki", "1Ki", Decimal(1024)),  # exactly 1024 takes a binary suffix
    ("1.5Ki", "1536", Decimal(1536)),  # not a whole Ki: plain bytes
    ("1024Ei", "1024Ei", Decimal(1024**7)),  # no suffix above Ei
    ("1e0", "1", Decimal(1)),  # a zero exponent is not written
    ("-3e0", "-3", Decimal(-3)),
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


# JSON numbers (ints and Decimals) are DecimalSI; these do not go through the text parser.
NUMBERS = [
    (1024, "1024"),
    (10**18, "1E"),
    (10**21, "1000E"),  # no suffix above E: the mantissa carries the rest
    (-(10**24), "-1000000E"),
    (2**70 + 1, "1180591620717411303425"),  # more digits than Python's default precision of 28
    (Decimal("123456789012345678901.123456789"), "123456789012345678901123456789n"),
]


@pytest.mark.parametrize(("number", "canonical"), NUMBERS, ids=[str(n[0]) for n in NUMBERS])
def test_json_numbers_are_exact_and_print_decimal_si(number, canonical):
    quantity = Quantity(number)
    assert quantity.value == number
    assert str(quantity) == canonical


@pytest.mark.parametrize(("text", "value"), [("1E", 10**18), ("5E", 5 * 10**18), ("1000E", 10**21)])
def test_the_exa_suffix_is_a_suffix_not_an_exponent_without_digits(text, value):
    # "1E" is exa, as Kubernetes reads it, and what str() prints for 10**18: it reads back.
    assert Quantity(text).value == value
    assert Quantity(str(Quantity(value))) == Quantity(value)


def test_zero_is_plain_zero_whatever_its_sign():
    assert str(Quantity(Decimal("-0")).value) == "0"
    assert str(Quantity(Decimal("-0E-12")).value) == "0"


NOT_FINITE = [
    (float("inf"), "inf is not a quantity (not finite)"),
    (float("-inf"), "-inf is not a quantity (not finite)"),
    (float("nan"), "nan is not a quantity (not finite)"),
    (Decimal("Infinity"), "Infinity is not a quantity (not finite)"),
    (Decimal("NaN"), "NaN is not a quantity (not finite)"),
]


@pytest.mark.parametrize(("value", "message"), NOT_FINITE, ids=[repr(n[0]) for n in NOT_FINITE])
def test_non_finite_numbers_are_refused_by_name(value, message):
    with pytest.raises(QuantityError) as caught:
        Quantity(value)
    assert str(caught.value) == message


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


# (left, right, (<, <=, >, >=)): equal values in different formats are neither less nor greater.
ORDER = [
    ("1Ki", "1024", (False, True, False, True)),
    ("1G", "1Gi", (True, True, False, False)),
    ("1Gi", "1G", (False, False, True, True)),
    ("500m", "0.5", (False, True, False, True)),
]


@pytest.mark.parametrize(
    ("left", "right", "expected"), ORDER, ids=[f"{o[0]}-{o[1]}" for o in ORDER]
)
def test_orders_by_value_across_formats(left, right, expected):
    a, b = Quantity(left), Quantity(right)
    assert (a < b, a <= b, a > b, a >= b) == expected


def test_distinct_values_hash_apart():
    # Quantities key the scheduler's capacity maps: one shared hash would make each lookup a scan.
    assert len({hash(Quantity(n)) for n in range(64)}) == 64


@pytest.mark.parametrize(
    ("text", "truth"),
    [("0", False), ("0Gi", False), ("1", True), ("500m", True), ("-1", True), ("1n", True)],
)
def test_only_zero_is_false(text, truth):
    assert bool(Quantity(text)) is truth


def test_repr_shows_the_canonical_form():
    assert repr(Quantity("1.5")) == "Quantity('1500m')"
    assert repr(Quantity("1.5Gi")) == "Quantity('1536Mi')"


def test_arithmetic_keeps_the_format():
    assert str(Quantity("16Gi") + Quantity("16Gi")) == "32Gi"
    assert str(Quantity("80Gi") - Quantity("16Gi")) == "64Gi"
    assert str(Quantity("989.5") * 8) == "7916"
    assert str(Quantity("16Gi") * 2) == "32Gi"
    assert (Quantity("1e3") * 3).format is QuantityFormat.DECIMAL_EXPONENT


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
    with pytest.raises(ValidationError, match="a list is not a quantity"):
        _Holder(amount=[1])  # type: ignore[arg-type]


def test_pydantic_type_validates_serialises_and_publishes_the_kubernetes_schema():
    # Built here, not at import, so the schema hooks run inside the test. The JSON schema is
    # what the generated CRDs publish for every quantity field.
    adapter = TypeAdapter(Quantity)
    assert adapter.validate_python("1.5Gi") == Quantity("1536Mi")
    assert adapter.dump_json(Quantity("1.5")) == b'"1500m"'
    assert adapter.dump_python(Quantity("16Gi"), mode="json") == "16Gi"
    assert adapter.json_schema() == {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": Quantity.PATTERN,
        "x-kubernetes-int-or-string": True,
    }


def test_memoised_parsing_gives_equal_values_and_never_remembers_an_error():
    # Parsing is memoised by text (the scheduler reads the same few quantities endlessly).
    assert Quantity("16Gi") == Quantity("16Gi") == Quantity(16 * 1024**3)
    assert Quantity("16Gi").format is QuantityFormat.BINARY_SI
    for _ in range(2):
        with pytest.raises(QuantityError, match="'16Gx' is not a Kubernetes quantity"):
            Quantity("16Gx")
