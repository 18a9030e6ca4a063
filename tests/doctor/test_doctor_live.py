"""Live doctor against the emulated world (smoke while developing)."""

from __future__ import annotations

from doctorworld import DoctorWorld

from generator.doctor.output import as_text


def test_healthy(world: DoctorWorld) -> None:
    report = world.doctor()
    print(as_text(report, "fluxforge.yaml"))
    assert report.ok
