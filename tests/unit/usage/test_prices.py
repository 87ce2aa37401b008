"""usage/prices.py: ACTUAL / ESTIMATED / UNKNOWN, overrides and wildcards."""

from __future__ import annotations

import pytest

from synapsed.config import PriceOverride
from synapsed.protocol import PriceRow
from synapsed.usage.prices import PriceTable, builtin
from tests.unit.usage.conftest import KEY, _row  # noqa: F401


def test_reported_cost_is_actual() -> None:
    assert PriceTable().cost("openrouter", "x", "x", 10, 5, 0.0123).source == "ACTUAL"


def test_listed_model_is_estimated_with_table_version() -> None:
    cost = PriceTable().cost("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000, None)
    assert cost.source == "ESTIMATED" and cost.usd == pytest.approx(0.75)
    assert cost.price_version == f"builtin:{builtin()[0]}"


def test_unknown_model_or_missing_tokens_is_unknown_never_guessed() -> None:
    assert PriceTable().cost("openai", "gpt-9-hyper", "gpt-9-hyper", 10, 5, None).source == "UNKNOWN"
    assert PriceTable().cost("openai", "gpt-4o", "gpt-4o", None, 5, None).source == "UNKNOWN"
    assert PriceTable().cost("azure-openai", "gpt-4o", "gpt-4o", 10, 5, None).source == "UNKNOWN"


def test_user_overrides_win_and_wildcards_apply() -> None:
    table = PriceTable({"openai/gpt-4o": PriceOverride(1.0, 2.0), "ollama/*": PriceOverride(0.0, 0.0)})
    assert table.cost("openai", "gpt-4o", "gpt-4o", 1_000_000, 0, None).usd == pytest.approx(1.0)
    local = table.cost("ollama", "llama3.2", "llama3.2", 100, 100, None)
    assert local.source == "ESTIMATED" and local.usd == 0.0 and local.price_version == "config"
    assert table.rows()[0] == PriceRow("ollama/*", 0.0, 0.0, "config")




def test_cache_reads_and_writes_are_priced_at_their_own_rates() -> None:
    from synapsed.usage.prices import PriceTable

    cost = PriceTable().cost("anthropic", "claude-sonnet-4-6", None, 10_000, 1_000, None,
                             cache_read_tokens=8_000, cache_write_tokens=1_000)
    # 1,000 fresh at $3, 8,000 read at $0.30, 1,000 written at $3.75, 1,000 out at $15 (per million).
    assert cost.usd == pytest.approx((1_000 * 3 + 8_000 * 0.3 + 1_000 * 3.75 + 1_000 * 15) / 1e6)
    full = PriceTable().cost("anthropic", "claude-sonnet-4-6", None, 10_000, 1_000, None)
    assert cost.usd is not None and full.usd is not None and cost.usd < full.usd


def test_one_hour_cache_writes_are_priced_at_twice_the_input_rate() -> None:
    from synapsed.usage.prices import PriceTable

    table = PriceTable()
    mixed = table.cost("anthropic", "claude-sonnet-5-5", None, 10_000, 1_000, None,
                       cache_read_tokens=4_000, cache_write_tokens=3_000, cache_write_1h_tokens=2_000)
    # 3,000 fresh at $2, 4,000 read at $0.20, 1,000 written for 5 minutes at $2.50, 2,000 for an
    # hour at $4 (2x input), 1,000 out at $10 (per million).
    assert mixed.usd == pytest.approx((3_000 * 2 + 4_000 * 0.2 + 1_000 * 2.5 + 2_000 * 4 + 1_000 * 10) / 1e6)
    short = table.cost("anthropic", "claude-sonnet-5-5", None, 10_000, 1_000, None,
                       cache_read_tokens=4_000, cache_write_tokens=3_000)
    assert short.usd is not None and mixed.usd is not None and mixed.usd > short.usd
    # A 1-hour count above the writes (a malformed reply) is held to the writes.
    capped = table.cost("anthropic", "claude-sonnet-5-5", None, 10_000, 1_000, None,
                        cache_write_tokens=1_000, cache_write_1h_tokens=5_000)
    assert capped.usd == pytest.approx((9_000 * 2 + 1_000 * 4 + 1_000 * 10) / 1e6)


@pytest.mark.parametrize(("model", "rates"), [
    ("claude-opus-5-5", (4, 20, 0.2, 5)), ("claude-opus-5", (5, 25, 0.5, 6.25)),
    ("claude-sonnet-5-5", (2, 10, 0.2, 2.5)), ("claude-sonnet-5", (2, 10, 0.2, 2.5)),
])
def test_the_claude_5_models_carry_their_own_pages_rates(model: str, rates: tuple[float, ...]) -> None:
    from synapsed.usage.prices import PriceTable

    price = PriceTable().lookup("anthropic", model)
    assert price is not None and price.page is not None and "platform.claude.com" in price.page
    assert (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok,
            price.cache_write_per_mtok) == rates


def test_a_long_prompt_is_priced_at_the_long_context_tier() -> None:
    from synapsed.usage.prices import PriceTable

    short = PriceTable().cost("gemini", "gemini-3.1-pro-preview", None, 200_000, 1_000, None)
    long = PriceTable().cost("gemini", "gemini-3.1-pro-preview", None, 200_001, 1_000, None)
    assert short.usd == pytest.approx((200_000 * 2 + 1_000 * 12) / 1e6)
    assert long.usd == pytest.approx((200_001 * 4 + 1_000 * 18) / 1e6)


def test_an_override_without_cache_rates_prices_cached_tokens_as_input() -> None:
    from synapsed.config.schema import PriceOverride
    from synapsed.usage.prices import PriceTable

    table = PriceTable({"openai/*": PriceOverride(input_per_mtok=1.0, output_per_mtok=2.0)})
    assert table.cost("openai", "x", None, 1_000, 0, None, cache_read_tokens=900).usd == pytest.approx(1_000 / 1e6)


# Providers that keep no price table: local servers, custom gateways, compatible services (OpenRouter
# reports its charge, ACTUAL) and Azure OpenAI (a deployment's price depends on its type). Bedrock's
# cross-region profiles are not listed either (prices.json's note says why).
UNPRICED = {"azure-openai", "ollama", "lmstudio", "vllm", "custom-rest", "openai-compatible", "groq", "openrouter", "deepseek", "xai",
            "mistral", "together", "huggingface", "fireworks", "cerebras", "nvidia", "perplexity"}


def test_every_model_named_in_the_readme_and_docs_has_a_price() -> None:
    import re
    from pathlib import Path

    from synapsed.usage.prices import PriceTable

    root = Path(__file__).resolve().parents[3]
    texts = [(root / "README.md").read_text(), *(p.read_text() for p in (root / "docs").rglob("*.md"))]
    named = {(m.group(1), m.group(2)) for text in texts
             for m in re.finditer(r"--provider ([a-z-]+) --model ([A-Za-z0-9._:@/-]+)", text)}
    named |= {(m.group(1), m.group(2)) for text in texts
              for m in re.finditer(r'provider = "([a-z-]+)"\s*\nmodel = "([^"]+)"', text)}
    assert named, "no model examples found: the pattern no longer matches the docs"
    missing = sorted(f"{p}/{m}" for p, m in named
                     if p not in UNPRICED and not re.match(r"^(us|eu|apac|global)\.", m)
                     and PriceTable().lookup(p, m) is None)
    assert missing == [], f"add these to synapsed/usage/prices.json: {missing}"


def test_every_builtin_entry_names_its_pricing_page() -> None:
    from synapsed.usage.prices import builtin

    _, table = builtin()
    missing = [key for key, price in table.items() if not (price.page or "").startswith("https://")]
    assert missing == []
