"""Config rules of the cloud providers: regions, locations, projects, profiles, the ambient
credential references, endpoints derived from options, and optional libraries kept optional."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import pytest

from synapsed import validation as v
from synapsed.catalog import PROVIDERS
from synapsed.config import ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.providers.optional import load
from synapsed.usage.prices import PriceTable


def _conn(provider: str, **kw: object) -> ConnectionConfig:
    return ConnectionConfig(provider=provider, model=str(kw.pop("model", "m")), **kw)  # type: ignore[arg-type]


def _refused(conn: ConnectionConfig) -> SynapseError:
    with pytest.raises(SynapseError) as caught:
        v.validate_connection("c", conn)
    return caught.value


def test_bedrock_endpoint_comes_from_the_region() -> None:
    conn = v.validate_connection("c", _conn("bedrock", options={"region": "eu-central-1"}, credential="aws"))
    assert v.effective_base_url(conn) == "https://bedrock-runtime.eu-central-1.amazonaws.com"


def test_bedrock_without_region_names_the_option() -> None:
    error = _refused(_conn("bedrock"))
    assert error.kind == "config_invalid" and "region" in error.message


@pytest.mark.parametrize("region", ["N. Virginia", "us_east_1", "useast1", "US-EAST-1"])
def test_a_region_that_is_not_a_region_id_is_refused_with_an_example(region: str) -> None:
    error = _refused(_conn("bedrock", options={"region": region}))
    assert error.detail["field"] == "options.region" and "us-east-1" in (error.hint or "")


def test_profile_without_the_aws_chain_is_refused() -> None:
    error = _refused(_conn("bedrock", options={"region": "us-east-1", "profile": "work"}))
    assert error.detail["field"] == "options.profile" and "--credential aws" in (error.hint or "")


def test_ambient_credentials_belong_to_their_provider() -> None:
    error = _refused(_conn("openai", credential="aws"))
    assert error.detail["field"] == "credential" and "bedrock" in (error.hint or "")
    error = _refused(_conn("bedrock", options={"region": "us-east-1"}, credential="adc"))
    assert "vertex" in (error.hint or "")


@pytest.mark.parametrize(("location", "url"), [
    ("us-central1", "https://us-central1-aiplatform.googleapis.com"),
    ("europe-west4", "https://europe-west4-aiplatform.googleapis.com"),
    ("global", "https://aiplatform.googleapis.com"),
])
def test_vertex_endpoint_comes_from_the_location_and_global_has_no_region_prefix(location: str, url: str) -> None:
    conn = v.validate_connection("c", _conn("vertex", options={"location": location}, credential="adc"))
    assert v.effective_base_url(conn) == url


def test_vertex_defaults_to_the_global_location() -> None:
    assert v.effective_base_url(_conn("vertex", credential="adc")) == "https://aiplatform.googleapis.com"


@pytest.mark.parametrize(("option", "value"), [("project", "My Project"), ("project", "12"), ("location", "US Central")])
def test_vertex_project_and_location_shapes_are_checked(option: str, value: str) -> None:
    error = _refused(_conn("vertex", options={option: value}, credential="adc"))
    assert error.detail["field"] == f"options.{option}"


def test_openai_project_option_is_not_held_to_google_rules() -> None:
    conn = v.validate_connection("c", _conn("openai", options={"project": "proj_Ab12Cd34"}))
    assert conn.options == {"project": "proj_Ab12Cd34"}


def test_vertex_file_credential_is_a_document_and_keyring_is_the_express_key() -> None:
    info = PROVIDERS["vertex"]
    assert info.own_credentials("file:/k.json") and info.own_credentials("adc")
    assert not info.own_credentials("keyring") and not info.own_credentials("env:VERTEX_KEY")
    assert not PROVIDERS["gemini"].own_credentials("file:/k")


def test_custom_rest_needs_an_endpoint_and_keeps_its_path() -> None:
    options = {"body": '{"q": "{prompt}"}', "answer": "a"}
    assert _refused(_conn("custom-rest", options=options)).kind == "base_url_invalid"
    conn = v.validate_connection("c", _conn("custom-rest", options=options, base_url="https://llm.corp.example/v1/chat/completions"))
    assert conn.base_url == "https://llm.corp.example/v1/chat/completions"  # an endpoint, not an API root


def test_a_missing_optional_library_is_a_typed_error_whose_hint_is_the_install_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m.startswith("botocore")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "botocore", None)  # what an environment without it looks like to import
    with pytest.raises(SynapseError) as caught:
        load("botocore.session")
    assert caught.value.kind == "config_invalid" and caught.value.hint.startswith("pip install 'mcp-synapse[aws]'")
    monkeypatch.setitem(sys.modules, "google.auth", None)
    with pytest.raises(SynapseError) as caught:
        load("google.auth")
    assert caught.value.hint.startswith("pip install 'mcp-synapse[gcp]'")


def test_the_daemon_loads_neither_botocore_nor_google_auth_until_a_connection_needs_them() -> None:
    code = ("import sys, synapsed.app, synapsed.providers.registry, synapsed.preflight; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'google', 'jmespath')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == "[]"


def test_cloud_prices_are_estimated_for_listed_ids_and_unknown_for_profiles() -> None:
    table = PriceTable()
    listed = table.cost("bedrock", "amazon.nova-lite-v1:0", None, 1_000_000, 1_000_000, None)
    assert listed.source == "ESTIMATED" and listed.usd == pytest.approx(0.30)
    profile = table.cost("bedrock", "us.amazon.nova-lite-v1:0", None, 1000, 1000, None)
    assert profile.source == "UNKNOWN" and profile.usd is None  # never $0, never a guess
    assert table.cost("vertex", "gemini-2.5-flash", None, 10, 10, None).source == "ESTIMATED"


def test_perplexity_default_endpoint() -> None:
    conn = msgspec.structs.replace(_conn("perplexity"))
    assert v.effective_base_url(conn) == "https://api.perplexity.ai"
