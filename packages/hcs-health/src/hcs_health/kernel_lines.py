"""Kernel log lines -> HealthEvents, for every source that reads kernel text.

The eBPF printk probe, the /dev/kmsg fallback and offline dmesg/journal files all carry the same
driver lines, so one table decides what a line means. Each rule was written from a recorded line
in tests/fixtures (named in the rule's comment); a line no rule knows says nothing about
accelerator health and gives None. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from hcs_health.events import EventKind, HealthEvent, Severity, Source

MESSAGE_LIMIT = 512

_PCI = r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]"

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

Fields = dict[str, Any]
"""HealthEvent fields a rule decided (kind, severity, pci...); at/source/message are added."""
Build = Callable[[re.Match[str], str], Fields | None]


def strip_prefixes(text: str) -> str:
    """The driver's own text: timestamps, host names and log-daemon headers removed, and a
    multi-line record (dmesg's indented continuation, kmsg's escaped newline) joined by spaces."""
    first, *rest = text.strip().splitlines() or [""]
    changed = True
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


def _fixed(kind: EventKind, severity: Severity, vendor: str | None = None) -> Build:
    """A rule whose kind and severity do not depend on the line; pci from the (?P<pci>) group."""

    def build(m: re.Match[str], text: str) -> Fields:
        pci = m.groupdict().get("pci")
        return {
            "kind": kind,
            "severity": severity,
            "vendor": vendor,
            "pci": pci.lower() if pci else None,
        }

    return build


# --- NVIDIA -------------------------------------------------------------------------------------

# Xid number -> (kind, severity), from NVIDIA's Xid catalogue
# (docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html). Codes not listed: XID WARNING.
_XID_TABLE: dict[int, tuple[EventKind, Severity]] = {
    79: (EventKind.FALLEN_OFF_BUS, Severity.FATAL),
    48: (EventKind.ECC_UNCORRECTABLE, Severity.ERROR),
    63: (EventKind.ROW_REMAP, Severity.WARNING),
    64: (EventKind.ROW_REMAP, Severity.ERROR),
    74: (EventKind.LINK_DEGRADED, Severity.ERROR),
    92: (EventKind.ECC_CORRECTABLE, Severity.WARNING),
    94: (EventKind.ECC_UNCORRECTABLE, Severity.ERROR),
    95: (EventKind.ECC_UNCORRECTABLE, Severity.FATAL),
    119: (EventKind.DRIVER_ERROR, Severity.ERROR),
    120: (EventKind.DRIVER_ERROR, Severity.ERROR),
    # Mostly the application's fault (illegal instruction, MMU fault, preemptive cleanup...).
    **dict.fromkeys((13, 31, 43, 45, 109), (EventKind.XID, Severity.INFO)),
    # NVLink error family of the catalogue (144-150; 145 RLW, 149 NETIR).
    **dict.fromkeys(range(144, 151), (EventKind.LINK_DEGRADED, Severity.ERROR)),
}


def xid_class(code: int) -> tuple[EventKind, Severity]:
    """How bad one Xid is on its own, per NVIDIA's catalogue."""
    return _XID_TABLE.get(code, (EventKind.XID, Severity.WARNING))


def _xid(m: re.Match[str], text: str) -> Fields:
    code = int(m["code"])
    kind, severity = xid_class(code)
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


# --- PCIe AER: one report spans several lines ---------------------------------------------------
# Line shapes from drivers/pci/pcie/aer.c (aer_print_error, __aer_print_error, aer_print_source,
# pci_print_aer) and the fixtures dmesg-pcieport-aer-*, syslog-pcieport-aer-*: older kernels say
# "Corrected error received: <addr>", newer "Correctable error message received from <addr>".

_SEVERITIES: dict[str, tuple[EventKind, Severity]] = {
    "corrected": (EventKind.AER_CORRECTABLE, Severity.INFO),
    "correctable": (EventKind.AER_CORRECTABLE, Severity.INFO),
    "uncorrected (non-fatal)": (EventKind.AER_UNCORRECTABLE, Severity.ERROR),
    "uncorrectable (non-fatal)": (EventKind.AER_UNCORRECTABLE, Severity.ERROR),
    "recoverable": (EventKind.AER_UNCORRECTABLE, Severity.ERROR),  # APEI/CPER wording
    "uncorrected (fatal)": (EventKind.AER_UNCORRECTABLE, Severity.FATAL),
    "uncorrectable (fatal)": (EventKind.AER_UNCORRECTABLE, Severity.FATAL),
    "fatal": (EventKind.AER_UNCORRECTABLE, Severity.FATAL),
}
# Correctable status bit names: short ones printed by aer.c since 4.x, long ones by older kernels.
_CORRECTABLE_BITS = frozenset(
    {
        *("RxErr", "BadTLP", "BadDLLP", "Rollover", "Timeout", "NonFatalErr", "CorrIntErr"),
        *("HeaderOF", "Receiver Error", "Bad TLP", "Bad DLLP", "RELAY_NUM Rollover"),
        *("Replay Timer Timeout", "Advisory Non-Fatal", "Corrected Internal Error"),
        "Header Log Overflow",
    }
)
_SEV = r"(?P<sev>Corrected|Correctable|Uncorrect(?:ed|able) \((?:Non-)?Fatal\))"
_AER_HEADER = re.compile(
    rf"^\S+ {_PCI}: AER: (?:Multiple )?{_SEV} error (?:message )?received(?::| from) "
    rf"(?P<pci>{_PCI})"
)
_AER_BUS_ERROR = re.compile(rf"^\S+ (?P<pci>{_PCI}): PCIe Bus Error: severity={_SEV},")
_AER_BIT = re.compile(rf"^\S+ (?P<pci>{_PCI}):\s+\[\s*\d+\] (?P<name>.+?)\s*(?:\(First\))?$")
_AER_DETAIL = re.compile(
    rf"^\S+ {_PCI}: (?:\s+device \[[0-9a-f]{{4}}:[0-9a-f]{{4}}\] error status/mask|AER: "
    r"(?:aer_layer=|aer_status:|aer_uncor_severity|can't find device)|\s+(?:Error of this Agent"
    r"|TLP Header))"
)
# APEI GHES records (syslog-pcieport-aer-apei-ghes-*): "Error N, type: corrected", then
# "section_type: PCIe error" and "device_id: 0000:00:01.1" several lines later.
_GHES_ERROR = re.compile(
    r"\[Hardware Error\]:\s+Error \d+, type: (?P<sev>corrected|recoverable|fatal)"
)
_GHES_PCIE = re.compile(r"\[Hardware Error\]:\s+section_type: PCIe error")
_GHES_DEVICE = re.compile(rf"\[Hardware Error\]:\s+device_id: (?P<pci>{_PCI})")


def _aer_event(
    kind_sev: tuple[EventKind, Severity], pci: str, text: str, at: float, source: Source
) -> HealthEvent:
    return HealthEvent(
        at=at,
        kind=kind_sev[0],
        severity=kind_sev[1],
        source=source,
        pci=pci.lower(),
        message=text[:MESSAGE_LIMIT],
    )


def _bit_class(name: str) -> tuple[EventKind, Severity] | None:
    if name in _CORRECTABLE_BITS:
        return _SEVERITIES["correctable"]
    if name.startswith("Unknown"):
        return None  # needs the report's severity to mean anything
    return _SEVERITIES["uncorrectable (non-fatal)"]  # fatal or not is the header's to say


def aer_fields(text: str) -> Fields | None:
    """An AER line read alone (no report around it): headers and status-bit lines each stand for
    one error; detail lines (status/mask, aer_layer) say nothing on their own."""
    found = _AER_HEADER.search(text) or _AER_BUS_ERROR.search(text)
    kind_sev = _SEVERITIES[found["sev"].lower()] if found else None
    if found is None and (found := _AER_BIT.search(text)):
        kind_sev = _bit_class(found["name"])
    if found is None or kind_sev is None:
        return None
    return {"kind": kind_sev[0], "severity": kind_sev[1], "pci": found["pci"].lower()}


class AerReports:
    """Joins an AER report's lines: one event per status-bit line, carrying the header's device
    and severity; a header with no bit lines (e.g. "can't find device") is one event."""

    def __init__(self, at: float, source: Source) -> None:
        self._at, self._source = at, source
        self._open: tuple[EventKind, Severity] | None = None
        self._pci, self._text, self._bits, self._bus_line = "", "", False, False
        self._ghes: tuple[EventKind, Severity] | None = None
        self._ghes_pcie = False

    def flush(self) -> list[HealthEvent]:
        """End the current report; its header counts once if no bit line followed."""
        out = []
        if self._open is not None and not self._bits:
            out.append(_aer_event(self._open, self._pci, self._text, self._at, self._source))
        self._open, self._ghes, self._ghes_pcie = None, None, False
        return out

    def _start(
        self, kind_sev: tuple[EventKind, Severity], pci: str, text: str
    ) -> list[HealthEvent]:
        out = self.flush()
        self._open, self._pci, self._text, self._bits = kind_sev, pci, text, False
        return out

    def feed(self, text: str) -> list[HealthEvent] | None:
        """Events the line completes; [] for a line of a report, None for no AER line."""
        if found := _AER_HEADER.search(text):
            out = self._start(_SEVERITIES[found["sev"].lower()], found["pci"], text)
            self._bus_line = False
            return out
        if found := _AER_BUS_ERROR.search(text):
            kind_sev = _SEVERITIES[found["sev"].lower()]
            if self._open is not None and not self._bits and not self._bus_line:
                self._open, self._pci = kind_sev, found["pci"]  # the endpoint the header meant
                self._bus_line = True
                return []
            out = self._start(kind_sev, found["pci"], text)
            self._bus_line = True
            return out
        if (found := _AER_BIT.search(text)) and self._open is not None:
            self._bits = True
            return [_aer_event(self._open, self._pci, text, self._at, self._source)]
        if _AER_DETAIL.search(text):
            return []
        return self._feed_ghes(text)

    def _feed_ghes(self, text: str) -> list[HealthEvent] | None:
        if found := _GHES_ERROR.search(text):
            out = self.flush()
            self._ghes = _SEVERITIES[found["sev"]]
            return out
        if self._ghes is None or "[Hardware Error]:" not in text:
            return None
        if _GHES_PCIE.search(text):
            self._ghes_pcie = True
        elif (found := _GHES_DEVICE.search(text)) and self._ghes_pcie:
            self._ghes_pcie = False  # one event per record
            return [_aer_event(self._ghes, found["pci"], text, self._at, self._source)]
        return []


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
        _fixed(EventKind.FALLEN_OFF_BUS, Severity.FATAL, "nvidia"),
    ),
    (
        re.compile(r"NVRM: (?P<pci>)fallen off the bus"),
        _fixed(EventKind.FALLEN_OFF_BUS, Severity.FATAL, "nvidia"),
    ),
    # dmesg-xid119-*, syslog-xid48-* ("RmInitAdapter failed!"; the rm_init_adapter echo is None)
    (
        re.compile(rf"NVRM: GPU (?P<pci>{_PCI}): RmInitAdapter failed"),
        _fixed(EventKind.DRIVER_ERROR, Severity.ERROR, "nvidia"),
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
        _fixed(EventKind.ECC_UNCORRECTABLE, Severity.ERROR, "hygon"),
    ),
    # dmesg-amdgpu-ras-* ("amdgpu: GPU mode1 reset": once per device and reset; the "MODE1 reset",
    # "GPU smu mode1 reset", "GPU reset begin!" and "succeeded" lines belong to the same reset)
    (
        re.compile(rf"^{_AMD} (?:amdgpu: )?GPU mode[12] reset$"),
        _fixed(EventKind.RESET, Severity.ERROR, "hygon"),
    ),
    # dmesg-amdgpu-ras-* ("amdgpu: Failed to restore process queues", "The cp might be in an
    # unrecoverable state ..."); ring timeouts have no recorded line: amdgpu_job_timedout prints
    # "ring <name> timeout, signaled seq=..., emitted seq=..." (drivers/gpu/drm/amd/amdgpu)
    (
        re.compile(
            rf"^{_AMD} (?:amdgpu: )?(?:Failed to restore process queues|The cp might be in an "
            r"unrecoverable state)"
        ),
        _fixed(EventKind.DRIVER_ERROR, Severity.ERROR, "hygon"),
    ),
    (
        re.compile(rf"(?:^{_AMD} .*|\[drm:amdgpu\w*.*)\bring \S+ timeout\b"),
        _fixed(EventKind.DRIVER_ERROR, Severity.ERROR, "hygon"),
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
        _fixed(EventKind.DRIVER_ERROR, Severity.WARNING, "cambricon"),
    ),
    # dmesg-pci-bandwidth-limited_* ("... available PCIe bandwidth, limited by 16.0 GT/s PCIe
    # x16 link at ..."); "link ... downgraded" has no recorded line
    (
        re.compile(rf"^\S+ (?P<pci>{_PCI}): .*PCIe bandwidth, limited by"),
        _fixed(EventKind.LINK_DEGRADED, Severity.WARNING),
    ),
    (
        re.compile(
            rf"^\S+ (?P<pci>{_PCI}): .*\blink (?:speed|width)\b.*\bdowngraded", re.IGNORECASE
        ),
        _fixed(EventKind.LINK_DEGRADED, Severity.WARNING),
    ),
    # dmesg-pcieport-aer-*, syslog-pcieport-aer-* (see the AER part below)
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
        if records and line[:1] in (" ", "\t") and line.strip():
            records[-1] = f"{records[-1]}\n{line}"
        else:
            records.append(line.rstrip("\n"))
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
