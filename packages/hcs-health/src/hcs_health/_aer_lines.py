"""PCIe AER reports in kernel text -> HealthEvents.

An AER report spans several lines (a header, a "PCIe Bus Error" line, one line per status bit,
detail lines), and an APEI/GHES record names its device lines after its severity, so the lines
are joined here before they mean anything. Split from kernel_lines, which re-exports the public
names. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from typing import Any

from hcs_health.events import EventKind, HealthEvent, Severity, Source

MESSAGE_LIMIT = 512
"""Characters of the kernel text an event keeps as its message."""

PCI_PATTERN = r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]"
"""A PCI address as the kernel prints it (domain:bus:device.function)."""
_PCI = PCI_PATTERN

Fields = dict[str, Any]
"""HealthEvent fields a rule decided (kind, severity, pci...); at/source/message are added."""


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
