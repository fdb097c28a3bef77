"""hcs_exchange: sourced accelerator profiles and exchange rates between vendors' devices.

`load_database()` gives the bundled profiles; `Exchange` answers "how fast is X compared with
an A100-80G" and "how many X serve this request"; calibration records replace datasheet figures
with measured ones.
"""

from hcs_exchange._files import apply_overrides, load_database
from hcs_exchange._format import table as text_table
from hcs_exchange.calibration import CalibrationRecord, apply_calibration, measure
from hcs_exchange.errors import ExchangeError, ProfileFileError, UnknownModelError
from hcs_exchange.exchange import Demand, Exchange, Fit, RateOverride, Workload
from hcs_exchange.profiles import REFERENCE_MODEL, Figure, Precision, Profile, ProfileDatabase
from hcs_exchange.quota import QuotaUsage, quota_excess
from hcs_exchange.reported import REPORTED_SOURCE, fill_from_reports, lacking

__version__ = "0.3.2"

__all__ = [
    "REFERENCE_MODEL",
    "REPORTED_SOURCE",
    "CalibrationRecord",
    "Demand",
    "Exchange",
    "ExchangeError",
    "Figure",
    "Fit",
    "Precision",
    "Profile",
    "ProfileDatabase",
    "ProfileFileError",
    "QuotaUsage",
    "RateOverride",
    "UnknownModelError",
    "Workload",
    "__version__",
    "apply_calibration",
    "apply_overrides",
    "fill_from_reports",
    "lacking",
    "load_database",
    "measure",
    "quota_excess",
    "text_table",
]
