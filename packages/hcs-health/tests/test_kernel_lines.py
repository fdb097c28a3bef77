"""Recorded kernel lines of every vendor give the right HealthEvent; other lines give None."""

from __future__ import annotations

from pathlib import Path

import pytest

from hcs_health.events import EventKind, HealthEvent, Severity, Source
from hcs_health.kernel_lines import fold_continuations, parse_line, parse_lines, strip_prefixes
from hcs_health.xid import classify_xid

FIXTURES = Path(__file__).resolve().parent / "fixtures"
K, S = EventKind, Severity


def line(file: str, contains: str) -> str:
    """The first line of a recorded fixture file that contains `contains`."""
    for text in (FIXTURES / file).read_text().splitlines():
        if contains in text:
            return text
    raise AssertionError(f"{contains!r} not in {file}")


def events_of(file: str) -> list[HealthEvent]:
    return parse_lines((FIXTURES / file).read_text().splitlines(), 5.0, Source.KMSG)


XID79 = "journal-xid79-fallen-off-bus_rtx5070ti_open-gpu-kernel-modules-1010.txt"
XID48 = "syslog-xid48-dbe-xid64-rminitadapter_gpu-operator-1146.txt"
XID119 = "dmesg-xid119-gsp-timeout-rminitadapter_a10-openshift_notes.txt"
XID13 = "dmesg-ctime-xid13-xid109-peermem_gpud-readme.txt"
XID31 = "dmesg-ctime-xid31-mmu-fault-xid109_gpud-readme.txt"
OLD = "dmesg-xid32-xid31-old-format_laptop_bumblebee-677.txt"
XID45 = "syslog-xid45-caused-by-xid149-xid145-nvlink_590.48.01_open-gpu-kernel-modules-1150.txt"
AMD = "dmesg-amdgpu-ras-aca-ue-athub-xgmi-wafl-ce-mode1-reset_mi300x-8gpu_rocm6.2.3_rocm-4021.txt"
ASC_PCIE = (
    "dmesg-ascend-drv-pcie-device-abnormal-after-softirq-trace_atlas800i-huakun-at3500_"
    "realwujing-blog.txt"
)
ASC_SLOG = "device-slog-klogd-ascend-devmm-tsdrv-faults_atlas-a2_cann-doc.txt"
ASC_GREP = "device-slog-grep-ascend-devmm-vm-fault_cann-doc.txt"
ASC_INFO = "dmesg-ascend-devmm-davinci-intf-devdrv-release_atlas200-ep_ascend-samples-16.txt"
FLOOD = "dmesg-pcieport-aer-corrected-multiple-rxerr-flood_rtl8723be-skylake_lkml-patch.txt"
NVME = "syslog-pcieport-aer-corrected-rxerr-nvme_dell-latitude-5410_linux-pci-2021.txt"
BADTLP = "dmesg-pcieport-aer-badtlp-data-link-layer_3090-multigpu_hitorilabs-navi.txt"
GHES = "syslog-pcieport-aer-apei-ghes-corrected-pcie-errors_mi100-risers-wrx80_rocm-2927.txt"
BW = "dmesg-pci-bandwidth-limited_h100-gen4-switch_ml-engineering.txt"
OFFBUS = "dmesg-fallen-off-bus-multiline-no-xid_570.158.01_nvsentinel-155.txt"

# (file, text in the line, kind, severity, pci, device, vendor, code)
CASES = [
    (
        "xid79-off-bus",
        XID79,
        "): 79,",
        K.FALLEN_OFF_BUS,
        S.FATAL,
        "0000:01:00.0",
        None,
        "nvidia",
        79,
    ),
    (
        "nvrm-off-bus-no-xid",
        XID79,
        "GPU 0000:01:00.0: GPU has fallen",
        K.FALLEN_OFF_BUS,
        S.FATAL,
        "0000:01:00.0",
        None,
        "nvidia",
        None,
    ),
    (
        "xid48-dbe",
        XID48,
        "): 48,",
        K.ECC_UNCORRECTABLE,
        S.ERROR,
        "0000:07:00.0",
        None,
        "nvidia",
        48,
    ),
    ("xid64-retire", XID48, "): 64,", K.ROW_REMAP, S.ERROR, "0000:07:00.0", None, "nvidia", 64),
    (
        "xid63-remap",
        "dmesg-xid63-row-remapper_a100-sxm4-80gb_ml-engineering.txt",
        "63,",
        K.ROW_REMAP,
        S.WARNING,
        "0000:10:1c.0",
        None,
        "nvidia",
        63,
    ),
    (
        "xid74-nvlink",
        "dmesg-xid74-nvlink-fatal_nvsentinel-design-doc.txt",
        "74,",
        K.LINK_DEGRADED,
        S.ERROR,
        "0003:00:00.0",
        None,
        "nvidia",
        74,
    ),
    ("xid119-gsp", XID119, "): 119,", K.DRIVER_ERROR, S.ERROR, "0000:61:00.0", None, "nvidia", 119),
    (
        "rminitadapter",
        XID119,
        "RmInitAdapter failed",
        K.DRIVER_ERROR,
        S.ERROR,
        "0000:41:00.0",
        None,
        "nvidia",
        None,
    ),
    ("xid13-ctime-app", XID13, "): 13,", K.XID, S.INFO, "0000:cb:00.0", None, "nvidia", 13),
    ("xid31-mmu-app", XID31, "): 31,", K.XID, S.INFO, "0000:cb:00.0", None, "nvidia", 31),
    ("xid109-app", XID31, "): 109,", K.XID, S.INFO, "0000:cb:00.0", None, "nvidia", 109),
    ("xid32-old-format", OLD, "): 32,", K.XID, S.WARNING, "0000:01:00.0", None, "nvidia", 32),
    ("xid31-old-format", OLD, "): 31,", K.XID, S.INFO, "0000:01:00.0", None, "nvidia", 31),
    ("xid45-after-nvlink-149", XID45, "Xid 149", K.XID, S.INFO, "0000:dc:00.0", None, "nvidia", 45),
    (
        "amdgpu-ue",
        AMD,
        "uncorrectable hardware error(",
        K.ECC_UNCORRECTABLE,
        S.ERROR,
        "0000:dd:00.0",
        None,
        "hygon",
        None,
    ),
    (
        "amdgpu-xgmi-wafl-ce",
        AMD,
        "new correctable",
        K.LINK_DEGRADED,
        S.WARNING,
        "0000:9d:00.0",
        None,
        "hygon",
        None,
    ),
    (
        "amdgpu-mode1-reset",
        AMD,
        "5f:00.0: amdgpu: GPU mode1 reset",
        K.RESET,
        S.ERROR,
        "0000:5f:00.0",
        None,
        "hygon",
        None,
    ),
    (
        "kfd-restore-queues",
        AMD,
        "Failed to restore process queues",
        K.DRIVER_ERROR,
        S.ERROR,
        None,
        None,
        "hygon",
        None,
    ),
    (
        "amdgpu-cp-unrecoverable",
        AMD,
        "The cp might be",
        K.DRIVER_ERROR,
        S.ERROR,
        "0000:3d:00.0",
        None,
        "hygon",
        None,
    ),
    (
        "ascend-device-abnormal",
        ASC_PCIE,
        "Device is abnormal",
        K.FALLEN_OFF_BUS,
        S.FATAL,
        None,
        "ascend-5",
        "ascend",
        None,
    ),
    (
        "ascend-send-msg-unsuccessful",
        ASC_PCIE,
        "unsuccessful",
        K.DRIVER_ERROR,
        S.WARNING,
        None,
        "ascend-5",
        "ascend",
        None,
    ),
    (
        "ascend-vm-fault-slog",
        ASC_SLOG,
        "Vm fault failed",
        K.DRIVER_ERROR,
        S.ERROR,
        None,
        "ascend-0",
        "ascend",
        None,
    ),
    (
        "ascend-vm-fault-grep-prefix",
        ASC_GREP,
        "Vm fault",
        K.DRIVER_ERROR,
        S.ERROR,
        None,
        "ascend-0",
        "ascend",
        None,
    ),
    (
        "ascend-tsdrv-exception",
        ASC_SLOG,
        "excep_code",
        K.DRIVER_ERROR,
        S.ERROR,
        None,
        "ascend-0",
        "ascend",
        0xB4060006,
    ),
    ("aer-rxerr-bit", NVME, "RxErr", K.AER_CORRECTABLE, S.INFO, "0000:02:00.0", None, None, None),
    (
        "aer-received-names-endpoint",
        NVME,
        "received:",
        K.AER_CORRECTABLE,
        S.INFO,
        "0000:02:00.0",
        None,
        None,
        None,
    ),
    (
        "aer-bus-error-header",
        NVME,
        "severity=Corrected",
        K.AER_CORRECTABLE,
        S.INFO,
        "0000:02:00.0",
        None,
        None,
        None,
    ),
    ("aer-badtlp", BADTLP, "BadTLP", K.AER_CORRECTABLE, S.INFO, "0000:00:03.1", None, None, None),
    (
        "pcie-bandwidth-limited",
        BW,
        "8b:00.0",
        K.LINK_DEGRADED,
        S.WARNING,
        "0000:8b:00.0",
        None,
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("file", "contains", "kind", "severity", "pci", "device", "vendor", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_recorded_line_gives_event(
    file: str,
    contains: str,
    kind: EventKind,
    severity: Severity,
    pci: str | None,
    device: str | None,
    vendor: str | None,
    code: int | None,
) -> None:
    event = parse_line(line(file, contains), 7.5, Source.EBPF_PRINTK)
    assert event is not None
    assert (event.kind, event.severity, event.pci, event.device, event.vendor, event.code) == (
        kind,
        severity,
        pci,
        device,
        vendor,
        code,
    )
    assert (event.at, event.source) == (7.5, Source.EBPF_PRINTK)
    assert contains in event.message
    assert event.message == strip_prefixes(line(file, contains))


ORDINARY = [
    ("call-trace", XID119, "dump_stack+0x41/0x60"),
    ("oom-killer", XID119, "invoked oom-killer"),
    ("rm-init-echo", XID119, "rm_init_adapter failed, device minor"),
    ("gsp-rate-limit-note", XID119, "Rate limiting GSP RPC"),
    ("perf-interrupt", XID31, "perf: interrupt took too long"),
    ("hrtimer", XID31, "hrtimer: interrupt took"),
    ("peermem-context", XID13, "nvidia-peermem"),
    ("xid-follow-up", XID79, "critical error 79"),
    ("gpu-serial", XID79, "GPU Board Serial Number"),
    ("arm64-registers", ASC_PCIE, "x29: ffff00000800fec0"),
    ("softirq-trace", ASC_PCIE, "__do_softirq+0xc0/0x2f0"),
    ("ascend-release-note", ASC_INFO, "Release module success"),
    ("ascend-page-stats", ASC_INFO, "Page statistics"),
    ("amdgpu-aca-dump", AMD, "aca entry[00].STATUS"),
    ("amdgpu-ce-running-total", AMD, "in total in xgmi_wafl"),
    ("amdgpu-smu-mode1-same-reset", AMD, "GPU smu mode1 reset"),
    ("drm-gart", AMD, "PCIE GART of 512M"),
    ("core-dump", AMD, "Skipping core dump"),
    ("aer-status-mask-detail", NVME, "error status/mask"),
    ("aer-layer-detail", BADTLP, "aer_layer="),
    ("nvidia-module-load", OFFBUS, "loading NVIDIA UNIX Open Kernel Module"),
    ("poster-elision", GHES, "..."),
]


@pytest.mark.parametrize(
    ("file", "contains"), [c[1:] for c in ORDINARY], ids=[c[0] for c in ORDINARY]
)
def test_ordinary_kernel_line_gives_none(file: str, contains: str) -> None:
    assert parse_line(line(file, contains), 1.0, Source.KMSG) is None


def test_aer_flood_file_gives_one_event_per_error() -> None:
    # the RxErr bit line, two "Corrected error received" and one "Multiple Corrected ..." header
    events = events_of(FLOOD)
    assert [e.kind for e in events] == [K.AER_CORRECTABLE] * 4
    assert {e.pci for e in events} == {"0000:00:1c.5"}


def test_aer_report_over_four_lines_is_one_event_for_the_endpoint() -> None:
    events = events_of(NVME)
    assert [(e.kind, e.pci, e.at) for e in events] == [(K.AER_CORRECTABLE, "0000:02:00.0", 5.0)]
    assert "RxErr" in events[0].message


def test_ghes_pcie_records_each_give_one_correctable_event() -> None:
    events = events_of(GHES)
    assert len(events) == 8  # "Error 0" .. "Error 7", each a PCIe error section
    assert {e.kind for e in events} == {K.AER_CORRECTABLE}
    assert [e.pci for e in events][:2] == ["0000:20:03.1", "0000:00:01.1"]


def test_multiline_fallen_off_bus_without_xid_names_the_gpu() -> None:
    events = events_of(OFFBUS)
    assert [(e.kind, e.severity, e.pci) for e in events] == [
        (K.FALLEN_OFF_BUS, S.FATAL, "0000:b3:00.0")
    ]


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (AMD, {K.ECC_UNCORRECTABLE: 1, K.DRIVER_ERROR: 9, K.LINK_DEGRADED: 1, K.RESET: 8}),
        (XID79, {K.FALLEN_OFF_BUS: 2}),
        (XID45, {K.XID: 7}),
        (ASC_INFO, {}),
        (ASC_SLOG, {K.DRIVER_ERROR: 4}),
        (BW, {K.LINK_DEGRADED: 2}),
    ],
    ids=["amdgpu-mi300x", "xid79-journal", "xid45-nvlink", "ascend-info-only", "ascend-slog", "bw"],
)
def test_whole_file_counts(file: str, expected: dict[EventKind, int]) -> None:
    counts: dict[EventKind, int] = {}
    for event in events_of(file):
        counts[event.kind] = counts.get(event.kind, 0) + 1
    assert counts == expected


def test_amdgpu_counted_line_keeps_the_count() -> None:
    event = parse_line(line(AMD, "1533 new correctable"), 1.0, Source.KMSG)
    assert event is not None
    assert event.count == 1533


@pytest.mark.parametrize(
    ("code", "kind", "severity"),
    [
        (79, K.FALLEN_OFF_BUS, S.FATAL),
        (48, K.ECC_UNCORRECTABLE, S.ERROR),
        (63, K.ROW_REMAP, S.WARNING),
        (64, K.ROW_REMAP, S.ERROR),
        (74, K.LINK_DEGRADED, S.ERROR),
        (92, K.ECC_CORRECTABLE, S.WARNING),
        (94, K.ECC_UNCORRECTABLE, S.ERROR),
        (95, K.ECC_UNCORRECTABLE, S.FATAL),
        (119, K.DRIVER_ERROR, S.ERROR),
        (120, K.DRIVER_ERROR, S.ERROR),
        (43, K.XID, S.INFO),
        (45, K.XID, S.INFO),
        (145, K.LINK_DEGRADED, S.ERROR),
        (149, K.LINK_DEGRADED, S.ERROR),
        (32, K.XID, S.WARNING),
        (8, K.XID, S.WARNING),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_xid_catalogue(code: int, kind: EventKind, severity: Severity) -> None:
    assert classify_xid(code) == (kind, severity)
    # No recorded 92/94/95/145/149 line exists: reuse a real Xid line with the number changed.
    text = line(XID48, "): 48,").replace("): 48,", f"): {code},")
    event = parse_line(text, 1.0, Source.KMSG)
    assert event is not None
    assert (event.kind, event.severity, event.code) == (kind, severity, code)


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        ("Dec  2 11:38:47 worker4 kernel: [  219.470994] NVRM: x", "NVRM: x"),
        ("april 24 16:22:15 robin-linux-x3d kernel: NVRM: x", "NVRM: x"),
        ("kernel: NVRM: x", "NVRM: x"),
        ("[Fri Aug 30 11:43:09 2024] NVRM: x", "NVRM: x"),
        ("[ 1843.308145] NVRM: x", "NVRM: x"),
        (
            "[ERROR] KERNEL(5044,sklogd):2024-07-29-10:33:22.646.254 [klogd.c:247][257382.266115] "
            "[ascend] x",
            "[ascend] x",
        ),
    ],
    ids=[
        "syslog",
        "journal-lowercase-month",
        "bare-kernel",
        "dmesg-ctime",
        "dmesg",
        "ascend-klogd",
    ],
)
def test_prefixes_are_stripped(raw: str, body: str) -> None:
    assert strip_prefixes(raw) == body


def test_message_is_cut_to_512_characters() -> None:
    event = parse_line(line(XID48, "): 48,") + " x" * 400, 1.0, Source.KMSG)
    assert event is not None
    assert len(event.message) == 512


def test_cambricon_tag_is_a_generic_driver_warning() -> None:
    # Synthetic on purpose: no Cambricon kernel line was ever recorded (vendor-tools SOURCES.md),
    # so this proves only the generic tag rule, not a vendor format.
    event = parse_line("cambricon: some failure reported", 1.0, Source.KMSG)
    assert event is not None
    assert (event.kind, event.severity, event.vendor) == (K.DRIVER_ERROR, S.WARNING, "cambricon")
    assert parse_line("cambricon: driver loaded", 1.0, Source.KMSG) is None


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        ("", ""),
        ("  \n", ""),
        ("[ 1843.308145] kernel: NVRM: x", "NVRM: x"),
    ],
    ids=["empty", "blank", "timestamp-before-kernel-tag"],
)
def test_prefixes_in_any_order_and_empty_records(raw: str, body: str) -> None:
    assert strip_prefixes(raw) == body


def test_continuations_fold_into_their_record() -> None:
    lines = ["NVRM: GPU at X\n", "\tsecond line\n", "   third\n", "next record\n"]
    assert fold_continuations(lines) == [
        "NVRM: GPU at X\n\tsecond line\n   third",
        "next record",
    ]
    assert strip_prefixes(fold_continuations(lines)[0]) == "NVRM: GPU at X second line third"


def test_parse_lines_stamps_every_event_with_its_time_and_source() -> None:
    events = parse_lines((FIXTURES / XID48).read_text().splitlines(), 7.5, Source.EBPF_PRINTK)
    assert events
    assert {(e.at, e.source) for e in events} == {(7.5, Source.EBPF_PRINTK)}
