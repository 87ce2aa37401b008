"""The versioned built-in price table plus the user's overrides, and cost with its source.

`ACTUAL` when the provider reported the charge, `ESTIMATED` from a table entry (built-in, with
its date, or the user's own), `UNKNOWN` otherwise: an unlisted model is never priced by guess.

An entry is [input, output] USD per million tokens, or an object that adds the cache-read and
cache-write rates, a long-context tier (every token of a request above `above` input tokens at
the higher rates, as Gemini and Anthropic bill it) and the page it was read from. Cached and
cache-write tokens are priced at their own rates; where an entry has none, at the input rate.
Reasoning tokens are part of the output and priced as output, as every provider bills them.
Anthropic's 1-hour cache writes, which its usage reports apart (`cache_creation`), cost twice
the input rate, against 1.25x for the 5-minute writes the entries carry.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from synapsed.config.schema import PriceOverride
from synapsed.protocol import PriceRow

# Anthropic bills 1-hour cache writes at twice the base input rate; each Claude 5 model page read
# shows it: Opus 5.5 $4 input and $8 1-hour writes, Sonnet 5.5 $2 and $4, Opus 5 $5 and $10
# (https://platform.claude.com/docs/zh-CN/models/opus-5-5/overview, .../sonnet-5-5/overview,
# https://platform.claude.com/docs/about-claude/models/whats-new-opus-5).
ONE_HOUR_WRITE_X = 2.0


@dataclass(frozen=True)
class Rates:
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    source: str  # "builtin:<version>" or "config"
    cached_input_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    long_context_above: int | None = None
    long_context: Rates | None = None
    page: str | None = None

    def rates(self, input_tokens: int) -> Rates:
        if self.long_context is not None and self.long_context_above is not None and input_tokens > self.long_context_above:
            return self.long_context
        return Rates(self.input_per_mtok, self.output_per_mtok, self.cached_input_per_mtok, self.cache_write_per_mtok)


@dataclass(frozen=True)
class Cost:
    usd: float | None
    source: str  # ACTUAL | ESTIMATED | UNKNOWN
    price_version: str | None = None


def _entry(raw: Any, source: str) -> Price:
    if isinstance(raw, list):
        return Price(float(raw[0]), float(raw[1]), source)
    long = raw.get("long_context")
    return Price(
        float(raw["input"]), float(raw["output"]), source,
        cached_input_per_mtok=raw.get("cached_input"), cache_write_per_mtok=raw.get("cache_write"),
        long_context_above=long["above"] if long else None,
        long_context=Rates(float(long["input"]), float(long["output"]), long.get("cached_input"),
                           long.get("cache_write")) if long else None,
        page=raw.get("page"),
    )


@functools.cache
def builtin() -> tuple[str, dict[str, Price]]:
    """The bundled table's version and its `provider/model` entries, read on first use:
    importlib.resources and the file cost start-up ~5 ms before MCP answers."""
    from importlib import resources

    data = json.loads(resources.files("synapsed.usage").joinpath("prices.json").read_text(encoding="utf-8"))
    version = data["version"]
    return version, {k: _entry(v, f"builtin:{version}") for k, v in data["models"].items()}


def _override(o: PriceOverride) -> Price:
    return Price(o.input_per_mtok, o.output_per_mtok, "config", o.cached_input_per_mtok, o.cache_write_per_mtok)


class PriceTable:
    def __init__(self, overrides: dict[str, PriceOverride] | None = None) -> None:
        self.overrides = overrides or {}

    def lookup(self, provider: str, *models: str | None) -> Price | None:
        """The user's exact entry, then the user's `provider/*`, then the built-in table."""
        for model in models:
            if model and (o := self.overrides.get(f"{provider}/{model}")):
                return _override(o)
        if o := self.overrides.get(f"{provider}/*"):
            return _override(o)
        _, table = builtin()
        for model in models:
            if model and (entry := table.get(f"{provider}/{model}")):
                return entry
        return None

    def cost(
        self,
        provider: str,
        model_requested: str,
        model_reported: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        reported_usd: float | None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        cache_write_1h_tokens: int | None = None,
    ) -> Cost:
        """`input_tokens` counts the whole prompt, cached and cache-written tokens included;
        `cache_write_1h_tokens` are the part of the writes made with the 1-hour lifetime."""
        if reported_usd is not None:
            return Cost(reported_usd, "ACTUAL")
        price = self.lookup(provider, model_reported, model_requested)
        if price is None or input_tokens is None or output_tokens is None:
            return Cost(None, "UNKNOWN")
        rates = price.rates(input_tokens)
        read, written = cache_read_tokens or 0, cache_write_tokens or 0
        written_1h = min(cache_write_1h_tokens or 0, written)
        fresh = max(input_tokens - read - written, 0)
        usd = (fresh * rates.input_per_mtok
               + read * (rates.cached_input_per_mtok if rates.cached_input_per_mtok is not None else rates.input_per_mtok)
               + (written - written_1h) * (rates.cache_write_per_mtok if rates.cache_write_per_mtok is not None
                                           else rates.input_per_mtok)
               + written_1h * rates.input_per_mtok * ONE_HOUR_WRITE_X
               + output_tokens * rates.output_per_mtok) / 1_000_000
        return Cost(round(usd, 10), "ESTIMATED", price.source)

    def rows(self) -> list[PriceRow]:
        """Everything applied, for `synapsectl usage prices`."""
        out = [_row(key, _override(o)) for key, o in sorted(self.overrides.items())]
        _, table = builtin()
        out += [_row(key, price) for key, price in sorted(table.items()) if key not in self.overrides]
        return out


def _row(key: str, price: Price) -> PriceRow:
    return PriceRow(key, price.input_per_mtok, price.output_per_mtok, price.source, price.cached_input_per_mtok,
                    price.cache_write_per_mtok, price.long_context_above, price.page)
