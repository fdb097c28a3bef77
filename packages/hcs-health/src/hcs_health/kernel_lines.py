"""Kernel log lines -> HealthEvents, for every source that reads kernel text.

The eBPF printk probe, the /dev/kmsg fallback and offline dmesg/journal files all carry the same
driver lines, so one table decides what a line means. Each rule was written from a recorded line
in tests/fixtures (named in the rule's comment); a line no rule knows says nothing about
accelerator health and gives None. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import partial

from hcs_health._aer_lines import MESSAGE_LIMIT, AerReports, Fields, aer_fields
from hcs_health._aer_lines import PCI_PATTERN as _PCI
from hcs_health.events import EventKind, HealthEvent, Severity, Source
from hcs_health.xid import classify_xid

__all__ = [
    "MESSAGE_LIMIT",
    "AerReports",
    "Fields",
    "aer_fields",
    "fold_continuations",
    "parse_line",
    "parse_lines",
    "pci_from_xid",
    "strip_prefixes",
]

# Prefixes that wrap the driver's text. Stripped repeatedly, outermost first.
_PREFIXES = (
    # syslog / journal: "Dec  2 11:38:47 worker4 kernel: ", "april 24 16:22:15 host kernel: "
    re.compile(r"^[A-Za-z]{3,9}\s+\d{1,2}\s+\d\d:\d\d:\d\d\s+\S+\s+kernel:\s*"),
    # a bare "kernel: " (grep of a log, syslog-xid45 file)
    re.compile(r"^kernel:\s*"),
    # dmesg "[  123.456789] " and dmesg --ctime "[Fri Aug 30 11:11:22 2024] "
    re.compile(r"^\[\s*\d+\.\d+\]\s?"),
    re.compile(r"^\[[A-Z][a-z]{2} [A-Z][a-z]{2}\s+\d{1,2} \d\d:\d\d:\d\d \d{4}\]\s?"),
    # Ascend device slog (klogd), optionally behind a grep "path:461:" (device-slog-* files):
    # "[ERROR] KERNEL(5044,sklogd):2024-...254 [klogd.c:247][257382.266115] "
    re.compile(r"^(?:\S+:\d+:)?\[[A-Z]+\] KERNEL\(\d+,\w+\):\S+ \[[^\]]*\]\[\s*\d+\.\d+\]\s?"),
)
# Any of them at the start: most lines (all of the eBPF probe's) have none, and one match call
# is cheaper than a pass of the loop in strip_prefixes (bench/health/ebpf_cpu.py).
_ANY_PREFIX = re.compile("|".join(f"(?:{prefix.pattern})" for prefix in _PREFIXES))

Build = Callable[[re.Match[str], str], Fields | None]


def strip_prefixes(text: str) -> str:
    """The driver's own text: timestamps, host names and log-daemon headers removed, and a
    multi-line record (dmesg's indented continuation, kmsg's escaped newline) joined by spaces."""
    first, *rest = text.strip().splitlines() or [""]
    changed = _ANY_PREFIX.match(first) is not None
    while changed:
        changed = False
        for prefix in _PREFIXES:
            stripped = prefix.sub("", first, count=1)
            if stripped != first:
                first, changed = stripped, True
    return " ".join([first.strip(), *(part.strip() for part in rest)]).strip()


def pci_from_xid(short: str) -> str:
    """NVRM prints domain:bus:device ("0000:3b:00"); sysfs names function 0 of it."""
    return f"{short.lower()}.0"


def _fixed_fields(
    kind: EventKind, severity: Severity, vendor: str | None, m: re.Match[str], text: str
) -> Fields:
    """A rule whose kind and severity do not depend on the line; pci from the (?P<pci>) group.
    Bound with functools.partial in _RULES (not a closure built at import), so that what it
    decides is decided when a line is read."""
    pci = m.groupdict().get("pci")
    return {
        "kind": kind,
        "severity": severity,
        "vendor": vendor,
        "pci": pci.lower() if pci else None,
    }


# --- NVIDIA -------------------------------------------------------------------------------------


def _xid(m: re.Match[str], text: str) -> Fields:
    code = int(m["code"])
    kind, severity = classify_xid(code)  # the one Xid table, hcs_health.xid
    return {
        "kind": kind,
        "severity": severity,
        "pci": pci_from_xid(m["pci"]),
        "vendor": "nvidia",
        "code": code,
    }


# --- Hygon DCU / AMD (amdgpu, KFD; hydcu/hycu print through the same code) ----------------------

_AMD = rf"(?:amdgpu|hydcu|hycu|kfd)(?: (?P<pci>{_PCI}))?:"


def _amd_counted(m: re.Match[str], text: str) -> Fields:
    """ "N new (un)correctable hardware errors detected in <block> block": the xGMI/WAFL block is
    the inter-device link, every other block is memory/logic ECC."""
    uncorrectable = m["un"] is not None
    if "xgmi" in m["block"] or "wafl" in m["block"]:
        kind = EventKind.LINK_DEGRADED
        severity = Severity.ERROR if uncorrectable else Severity.WARNING
    elif uncorrectable:
        kind, severity = EventKind.ECC_UNCORRECTABLE, Severity.ERROR
    else:
        kind, severity = EventKind.ECC_CORRECTABLE, Severity.INFO
    return {
        "kind": kind,
        "severity": severity,
        "pci": m["pci"].lower(),
        "vendor": "hygon",
        "count": int(m["n"]),
    }


# --- Huawei Ascend -----------------------------------------------------------------------------

_ASCEND = r"\[ascend\] (?:\[(?P<level>[A-Z]+)\] )?\[(?P<module>\w+)\] "


def _ascend_device(text: str) -> str | None:
    found = re.search(r"\bdev_?id[=:]\s*(\d+)", text)
    return f"ascend-{found.group(1)}" if found else None


def _ascend(kind: EventKind, severity: Severity) -> Build:
    def build(m: re.Match[str], text: str) -> Fields:
        code = re.search(r"excep_code=0x([0-9a-fA-F]+)", text)
        return {
            "kind": kind,
            "severity": severity,
            "device": _ascend_device(text),
            "vendor": "ascend",
            "code": int(code.group(1), 16) if code else None,
        }

    return build


def _ascend_generic(m: re.Match[str], text: str) -> Fields | None:
    """Any other [ascend] line: tagged [ERROR] is a driver error; untagged lines are progress
    notes (the davinci_intf release file) unless they say something failed."""
    if m["level"] == "ERROR":
        return _ascend(EventKind.DRIVER_ERROR, Severity.ERROR)(m, text)
    if re.search(r"\b(?:fail\w*|unsuccessful|abnormal|error)\b", text, re.IGNORECASE):
        return _ascend(EventKind.DRIVER_ERROR, Severity.WARNING)(m, text)
    return None


# (pattern, builder); first match wins. The comment names the fixture each rule was written from.
_RULES: tuple[tuple[re.Pattern[str], Build], ...] = (
    # dmesg-xid*, syslog-xid48-*, syslog-xid45-*, journal-xid79-*, dmesg-ctime-* (old format too:
    # dmesg-xid32-xid31-old-format has no pid=/name=)
    (
        re.compile(
            r"NVRM: Xid \(PCI:(?P<pci>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2})\): "
            r"(?P<code>\d+)\b"
        ),
        _xid,
    ),
    # journal-xid79-* ("NVRM: GPU 0000:01:00.0: GPU has fallen off the bus.") and
    # dmesg-fallen-off-bus-multiline-no-xid (three lines, no Xid; joined by parse_lines)
    (
        re.compile(rf"NVRM: (?:The NVIDIA )?GPU (?P<pci>{_PCI})\b.*fallen off the bus"),
        partial(_fixed_fields, EventKind.FALLEN_OFF_BUS, Severity.FATAL, "nvidia"),
    ),
    (
        re.compile(r"NVRM: (?P<pci>)fallen off the bus"),
        partial(_fixed_fields, EventKind.FALLEN_OFF_BUS, Severity.FATAL, "nvidia"),
    ),
    # dmesg-xid119-*, syslog-xid48-* ("RmInitAdapter failed!"; the rm_init_adapter echo is None)
    (
        re.compile(rf"NVRM: GPU (?P<pci>{_PCI}): RmInitAdapter failed"),
        partial(_fixed_fields, EventKind.DRIVER_ERROR, Severity.ERROR, "nvidia"),
    ),
    # dmesg-amdgpu-ras-* ("socket: 6, die: 1, 1533 new correctable hardware errors detected in
    # xgmi_wafl block"); the "... in total ..." line repeats the sum and is left out
    (
        re.compile(
            rf"^amdgpu (?P<pci>{_PCI}): .*?\b(?P<n>\d+) new (?P<un>un)?correctable hardware "
            r"errors detected in (?P<block>\w+) block"
        ),
        _amd_counted,
    ),
    # dmesg-amdgpu-ras-* ("{1}uncorrectable hardware error(ERREVENT_ATHUB_INTERRUPT) detected!")
    (
        re.compile(rf"^{_AMD} .*uncorrectable hardware error"),
        partial(_fixed_fields, EventKind.ECC_UNCORRECTABLE, Severity.ERROR, "hygon"),
    ),
    # dmesg-amdgpu-ras-* ("amdgpu: GPU mode1 reset": once per device and reset; the "MODE1 reset",
    # "GPU smu mode1 reset", "GPU reset begin!" and "succeeded" lines belong to the same reset)
    (
        re.compile(rf"^{_AMD} (?:amdgpu: )?GPU mode[12] reset$"),
        partial(_fixed_fields, EventKind.RESET, Severity.ERROR, "hygon"),
    ),
    # dmesg-amdgpu-ras-* ("amdgpu: Failed to restore process queues", "The cp might be in an
    # unrecoverable state ..."); ring timeouts have no recorded line: amdgpu_job_timedout prints
    # "ring <name> timeout, signaled seq=..., emitted seq=..." (drivers/gpu/drm/amd/amdgpu)
    (
        re.compile(
            rf"^{_AMD} (?:amdgpu: )?(?:Failed to restore process queues|The cp might be in an "
            r"unrecoverable state)"
        ),
        partial(_fixed_fields, EventKind.DRIVER_ERROR, Severity.ERROR, "hygon"),
    ),
    (
        re.compile(rf"(?:^{_AMD} .*|\[drm:amdgpu\w*.*)\bring \S+ timeout\b"),
        partial(_fixed_fields, EventKind.DRIVER_ERROR, Severity.ERROR, "hygon"),
    ),
    # dmesg-ascend-drv-pcie-device-abnormal-* ("[drv_pcie] ... Device is abnormal. (dev_id=5 ...)")
    (
        re.compile(
            rf"{_ASCEND}.*(?:device is abnormal|device abnormal|heart ?beat lost)", re.IGNORECASE
        ),
        _ascend(EventKind.FALLEN_OFF_BUS, Severity.FATAL),
    ),
    # device-slog-* ("[devmm] ... Vm fault failed.", "Host page fault send message fail.")
    (
        re.compile(rf"{_ASCEND}.*(?:vm fault|page fault)", re.IGNORECASE),
        _ascend(EventKind.DRIVER_ERROR, Severity.ERROR),
    ),
    # device-slog-klogd-* ([tsdrv] "Invalid node id.", "receive ts exception msg"),
    # dmesg-ascend-devmm-davinci-intf-devdrv-release (informational -> None)
    (re.compile(_ASCEND), _ascend_generic),
    # No recorded Cambricon kernel line exists (vendor-tools SOURCES.md): the cambricon/cndrv
    # driver tag plus an error word is taken as a driver error, nothing more specific.
    (
        re.compile(
            r"^\[?(?:cambricon|cndrv)\w*[\]:]?\s.*\b(?:err\w*|fail\w*|fault|timeout|"
            r"abnormal|hang|exception|reset)\b",
            re.IGNORECASE,
        ),
        partial(_fixed_fields, EventKind.DRIVER_ERROR, Severity.WARNING, "cambricon"),
    ),
    # dmesg-pci-bandwidth-limited_* ("... available PCIe bandwidth, limited by 16.0 GT/s PCIe
    # x16 link at ..."); "link ... downgraded" has no recorded line
    (
        re.compile(rf"^\S+ (?P<pci>{_PCI}): .*PCIe bandwidth, limited by"),
        partial(_fixed_fields, EventKind.LINK_DEGRADED, Severity.WARNING, None),
    ),
    (
        re.compile(
            rf"^\S+ (?P<pci>{_PCI}): .*\blink (?:speed|width)\b.*\bdowngraded", re.IGNORECASE
        ),
        partial(_fixed_fields, EventKind.LINK_DEGRADED, Severity.WARNING, None),
    ),
    # dmesg-pcieport-aer-*, syslog-pcieport-aer-* (the AER rules and report joining: _aer_lines)
    (
        re.compile(rf"^\S+ {_PCI}: (?:AER: |PCIe Bus Error: |\s+\[\s*\d+\] )"),
        lambda m, text: aer_fields(text),
    ),
)


def parse_line(text: str, at: float, source: Source) -> HealthEvent | None:
    """One kernel line (or one multi-line record) -> its event, or None."""
    body = strip_prefixes(text)
    for pattern, build in _RULES:
        found = pattern.search(body)
        if found:
            fields = build(found, body)
            if fields is None:
                return None
            return HealthEvent(at=at, source=source, message=body[:MESSAGE_LIMIT], **fields)
    return None


def fold_continuations(lines: Iterable[str]) -> list[str]:
    """dmesg prints the later lines of one multi-line record indented, without a timestamp
    (dmesg-fallen-off-bus-multiline-no-xid): join them to the record they continue."""
    records: list[str] = []
    for line in lines:
        text = line.rstrip("\n")  # a continuation's own newline too, or the join doubles it
        if records and text[:1] in (" ", "\t") and text.strip():
            records[-1] = f"{records[-1]}\n{text}"
        else:
            records.append(text)
    return records


def parse_lines(lines: Iterable[str], at: float, source: Source) -> list[HealthEvent]:
    """Many lines -> events, joining the reports whose detail is on follow-up lines: an AER
    header and its "[ 0] RxErr" lines, an APEI/GHES PCIe error record, a folded dmesg record."""
    reports = AerReports(at, source)
    events: list[HealthEvent] = []
    for record in fold_continuations(lines):
        body = strip_prefixes(record)
        handled = reports.feed(body)
        if handled is not None:
            events.extend(handled)
            continue
        events.extend(reports.flush())
        event = parse_line(record, at, source)
        if event is not None:
            events.append(event)
    events.extend(reports.flush())
    return events
