"""The README stays true: it carries every service's section as kept in docs/services/."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.gateway import built_services

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("service", built_services())
def test_readme_carries_the_service_section(service):
    section = (ROOT / "docs" / "services" / f"{service}.md").read_text().strip()
    assert section in README, f"README's {service} section differs from docs/services/{service}.md"
    assert f"http://127.0.0.1:8080/api/{service}/" in section, "the section needs a curl example"


def test_readme_names_the_two_commands_and_every_variable_the_kernel_reads():
    from services.common.config import Settings

    assert "make run" in README and "make test" in README
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in README, f"{name.upper()} is missing from the configuration table"


def test_readme_names_every_monitoring_variable():
    from services.common.monitoring import MonitoringSettings

    for name in MonitoringSettings.model_fields:
        assert f"`MONITORING_{name.upper()}`" in README, f"MONITORING_{name.upper()} is missing from the table"
