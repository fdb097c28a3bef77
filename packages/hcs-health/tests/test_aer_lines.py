"""Lines read alone or joined (AER, amdgpu counts, cut Ascend records) give the right event."""

from __future__ import annotations

from pathlib import Path

import pytest

from hcs_health.events import EventKind, Severity, Source
from hcs_health.kernel_lines import parse_line, parse_lines

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FLOOD = "dmesg-pcieport-aer-corrected-multiple-rxerr-flood_rtl8723be-skylake_lkml-patch.txt"
NVME = "syslog-pcieport-aer-corrected-rxerr-nvme_dell-latitude-5410_linux-pci-2021.txt"
BADTLP = "dmesg-pcieport-aer-badtlp-data-link-layer_3090-multigpu_hitorilabs-navi.txt"


def line(file: str, contains: str) -> str:
    """The first line of a recorded fixture file that contains `contains`."""
    for text in (FIXTURES / file).read_text().splitlines():
        if contains in text:
            return text
    raise AssertionError(f"{contains!r} not in {file}")


def test_report_event_carries_severity_source_and_time() -> None:
    lines = (FIXTURES / NVME).read_text().splitlines()
    [event] = parse_lines(lines, 7.0, Source.SYSFS_AER)
    assert (event.kind, event.severity, event.source, event.at, event.pci) == (
        EventKind.AER_CORRECTABLE, Severity.INFO, Source.SYSFS_AER, 7.0, "0000:02:00.0",
    )  # fmt: skip


def test_bit_line_alone_names_the_device_in_lower_case() -> None:
    event = parse_line(line(FLOOD, "RxErr"), 1.0, Source.KMSG)
    assert event is not None
    assert (event.kind, event.severity, event.pci) == (
        EventKind.AER_CORRECTABLE, Severity.INFO, "0000:00:1c.5",
    )  # fmt: skip


# aer.c prints a status bit without a name as "Unknown Error Bit NN" (drivers/pci/pcie/aer.c,
# __aer_print_error); the uncorrectable names are its aer_uncorrectable_error_string[]. Built
# from the recorded BadTLP line with only the bit changed.
@pytest.mark.parametrize(
    ("bit", "expected"),
    [
        ("[14] CmpltTO", (EventKind.AER_UNCORRECTABLE, Severity.ERROR)),
        ("[ 7] BadDLLP", (EventKind.AER_CORRECTABLE, Severity.INFO)),
        ("[26] Unknown Error Bit 26", None),
    ],
    ids=["uncorrectable-bit", "correctable-bit", "unknown-bit"],
)
def test_bit_line_alone(bit: str, expected: tuple[EventKind, Severity] | None) -> None:
    text = line(BADTLP, "BadTLP").replace("[ 6] BadTLP", bit)
    event = parse_line(text, 1.0, Source.KMSG)
    assert (None if event is None else (event.kind, event.severity)) == expected


ASC_SLOG = "device-slog-klogd-ascend-devmm-tsdrv-faults_atlas-a2_cann-doc.txt"
ASC_PCIE = (
    "dmesg-ascend-drv-pcie-device-abnormal-after-softirq-trace_atlas800i-huakun-at3500_"
    "realwujing-blog.txt"
)


def test_ascend_record_cut_before_its_devid_names_no_device() -> None:
    """A record cut short (kmsg truncates long ones) still counts, on no particular device."""
    text = line(ASC_SLOG, "Invalid node id").split(" (devid=")[0]
    event = parse_line(text, 1.0, Source.KMSG)
    assert event is not None
    assert (event.kind, event.device, event.vendor) == (EventKind.DRIVER_ERROR, None, "ascend")


def test_ascend_failure_words_match_in_any_case() -> None:
    text = line(ASC_PCIE, "unsuccessful").replace("unsuccessful", "Unsuccessful")
    event = parse_line(text, 1.0, Source.KMSG)
    assert event is not None
    assert (event.kind, event.severity, event.device) == (
        EventKind.DRIVER_ERROR, Severity.WARNING, "ascend-5",
    )  # fmt: skip


COUNTED = "hardware errors detected in "
AMD = "dmesg-amdgpu-ras-aca-ue-athub-xgmi-wafl-ce-mode1-reset_mi300x-8gpu_rocm6.2.3_rocm-4021.txt"


# The recorded xgmi_wafl line with the block or "un" changed; block names are amdgpu's RAS
# blocks (drivers/gpu/drm/amd/amdgpu/amdgpu_ras.c, ras_block_string).
@pytest.mark.parametrize(
    ("counted", "expected"),
    [
        ("new correctable " + COUNTED + "xgmi_wafl", (EventKind.LINK_DEGRADED, Severity.WARNING)),
        ("new uncorrectable " + COUNTED + "xgmi_wafl", (EventKind.LINK_DEGRADED, Severity.ERROR)),
        ("new correctable " + COUNTED + "umc", (EventKind.ECC_CORRECTABLE, Severity.INFO)),
        ("new uncorrectable " + COUNTED + "umc", (EventKind.ECC_UNCORRECTABLE, Severity.ERROR)),
    ],
    ids=["link-correctable", "link-uncorrectable", "memory-correctable", "memory-uncorrectable"],
)  # fmt: skip
def test_amdgpu_counted_errors_by_block(counted: str, expected: tuple[EventKind, Severity]) -> None:
    recorded = "new correctable hardware errors detected in xgmi_wafl"
    text = line(AMD, recorded).replace(recorded, counted)
    event = parse_line(text, 1.0, Source.KMSG)
    assert event is not None
    assert (event.kind, event.severity, event.count, event.pci) == (*expected, 1533, "0000:9d:00.0")


GHES = "syslog-pcieport-aer-apei-ghes-corrected-pcie-errors_mi100-risers-wrx80_rocm-2927.txt"


def lines_of(file: str) -> list[str]:
    return (FIXTURES / file).read_text().splitlines()


def kinds_pcis(lines: list[str]) -> list[tuple[EventKind, Severity, str | None]]:
    return [(e.kind, e.severity, e.pci) for e in parse_lines(lines, 1.0, Source.KMSG)]


CORR = (EventKind.AER_CORRECTABLE, Severity.INFO)


def test_ghes_and_header_only_events_carry_time_and_source() -> None:
    ghes = parse_lines(lines_of(GHES), 3.0, Source.SYSFS_AER)
    header_only = parse_lines(lines_of(FLOOD)[3:], 4.0, Source.EBPF_AER)  # headers alone
    assert {(e.at, e.source) for e in ghes} == {(3.0, Source.SYSFS_AER)}
    assert {(e.at, e.source) for e in header_only} == {(4.0, Source.EBPF_AER)}


def test_ghes_lines_of_a_record_whose_start_was_cut_off_say_nothing() -> None:
    lines = lines_of(GHES)
    first = next(i for i, text in enumerate(lines) if "Error 0, type" in text)
    orphans = [text for text in lines[first + 1 :] if "Error 1, type" not in text][:8]
    assert kinds_pcis(orphans) == []


def test_every_bus_error_line_after_the_first_is_a_report_of_its_own() -> None:
    nvme = lines_of(NVME)
    bus = line(FLOOD, "PCIe Bus Error")
    # header + its endpoint's bus line + a second bus line, then one status bit
    assert len(kinds_pcis([nvme[0], nvme[1], nvme[1], nvme[3]])) == 2
    # two reports that start with their bus line, the first with no bit line
    assert kinds_pcis([bus, bus, line(FLOOD, "RxErr")]) == [(*CORR, "0000:00:1c.5")] * 2
    # a whole report, then a bus line with nothing after it
    assert kinds_pcis([*nvme, bus]) == [(*CORR, "0000:02:00.0"), (*CORR, "0000:00:1c.5")]


def test_a_bus_line_alone_is_one_event_with_its_own_text() -> None:
    bus = line(FLOOD, "PCIe Bus Error")
    [event] = parse_lines([bus], 1.0, Source.KMSG)
    assert "PCIe Bus Error: severity=Corrected" in event.message


def test_a_fatal_report_keeps_its_severity_on_every_bit() -> None:
    # The recorded report with aer.c's fatal wording and an uncorrectable bit in place.
    bus = line(FLOOD, "PCIe Bus Error").replace(
        "severity=Corrected", "severity=Uncorrected (Fatal)"
    )
    bit = line(FLOOD, "RxErr").replace("[ 0] RxErr", "[ 4] DLP")
    assert kinds_pcis([bus, bit]) == [(EventKind.AER_UNCORRECTABLE, Severity.FATAL, "0000:00:1c.5")]


def test_ascend_exception_code_in_upper_case_hex_is_read() -> None:
    text = line(ASC_SLOG, "excep_code").replace("0xb4060006", "0xB4060006")
    event = parse_line(text, 1.0, Source.KMSG)
    assert event is not None
    assert event.code == 0xB4060006
