"""Reports leave the station encrypted: an http:// FHIR endpoint needs the same
explicit opt-in as a clear-text SMTP relay (the SMTP side: tests/outbox/test_smtp.py)."""

from __future__ import annotations

import pytest

from station.outbox.config import OutboxConfigError, config_from_mapping


def test_a_plain_http_fhir_endpoint_is_refused_unless_explicitly_allowed() -> None:
    with pytest.raises(OutboxConfigError, match="fhir_url en http:// refusé"):
        config_from_mapping({"fhir_url": "http://dpi.ehpad.local/fhir/Bundle"})
    allowed = config_from_mapping({"fhir_url": "http://127.0.0.1:8080/fhir/Bundle",
                                   "allow_plaintext": True})
    assert allowed.fhir_url == "http://127.0.0.1:8080/fhir/Bundle"
    assert config_from_mapping({"fhir_url": "https://dpi.ehpad.local/fhir/Bundle"}).fhir_url
