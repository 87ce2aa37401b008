"""Form fields to the RPC methods' typed params."""

from __future__ import annotations

import pytest

from synapsed.console import forms
from synapsed.errors import SynapseError


def test_only_the_chosen_providers_options_are_sent() -> None:
    spec = forms.connection_spec({
        "name": "az", "provider": "azure-openai", "model": "gpt", "credential": "", "timeout_s": "30",
        "opt-azure-openai-deployment": "prod", "opt-azure-openai-api_version": "2024-10-21",
        "opt-openai-organization": "org-from-another-fieldset",
    })
    assert spec.options == {"deployment": "prod", "api_version": "2024-10-21"}
    assert spec.credential == "keyring" and spec.timeout_s == 30.0 and spec.enabled is False


def test_an_empty_base_url_means_the_providers_default() -> None:
    assert forms.connection_spec({"name": "a", "provider": "openai", "model": "m", "base_url": "  "}).base_url is None
    assert forms.connection_patch({"provider": "openai", "model": "m", "base_url": ""}).base_url == ""


def test_a_non_numeric_timeout_names_its_field() -> None:
    with pytest.raises(SynapseError) as failure:
        forms.connection_spec({"name": "a", "provider": "openai", "model": "m", "timeout_s": "soon"})
    assert failure.value.detail["field"] == "timeout_s"


def test_a_blank_key_field_keeps_the_stored_key() -> None:
    assert forms.key_value({"key": "   "}) is None
    assert forms.key_value({"key": "sk-abc"}) == "sk-abc"


def test_usage_filters_default_to_thirty_days() -> None:
    assert forms.usage_filters({}).since == "30d"
    assert forms.usage_filters({"since": ""}).since is None
    with pytest.raises(SynapseError):
        forms.usage_filters({"status": "sideways"})
