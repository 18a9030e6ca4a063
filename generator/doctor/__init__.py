"""``fluxforge doctor``: walk every gate of the trust chain in chain order and name the first broken one.

Gates are data (:mod:`generator.doctor.model`): the static ones read the repository
(:mod:`~generator.doctor.static`), the live ones read Azure through ARM (:mod:`~generator.doctor.live_azure`),
the cluster through kubectl (:mod:`~generator.doctor.live_cluster`, :mod:`~generator.doctor.status`), and the
probe runs the exchange Flux runs (:mod:`~generator.doctor.probe`). Readers are small protocols
(:mod:`~generator.doctor.readers`) so tests run the real ones against the emulator.
"""

from __future__ import annotations

from generator.doctor.model import Finding, Gate, Report
from generator.doctor.output import as_json, as_text
from generator.doctor.run import GATES, DoctorOptions, run_doctor

__all__ = ["GATES", "DoctorOptions", "Finding", "Gate", "Report", "format_report", "run_doctor"]


def format_report(report: Report, config: str, fmt: str) -> str:
    """The report as ``text`` or ``json`` (schemas/doctor.schema.json)."""
    return as_json(report, config) if fmt == "json" else as_text(report, config)
