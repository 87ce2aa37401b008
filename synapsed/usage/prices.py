"""The versioned built-in price table plus the user's overrides, and cost with its source.

`ACTUAL` when the provider reported the charge, `ESTIMATED` from a table entry (built-in, with
its date, or the user's own), `UNKNOWN` otherwise: an unlisted model is never priced by guess.
Gemini 2.5 Pro's higher rate for prompts over 200k tokens is not modelled (the entry is the
lower tier); override it if you send such prompts.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from synapsed.config.schema import PriceOverride
from synapsed.protocol import PriceRow


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    source: str  # "builtin:<version>" or "config"


@dataclass(frozen=True)
class Cost:
    usd: float | None
    source: str  # ACTUAL | ESTIMATED | UNKNOWN
    price_version: str | None = None


@functools.cache
def builtin() -> tuple[str, dict[str, tuple[float, float]]]:
    """The bundled table's version and its `provider/model` -> (input, output) $/Mtok, read on
    first use: importlib.resources and the file cost start-up ~5 ms before MCP answers."""
    from importlib import resources

    data = json.loads(resources.files("synapsed.usage").joinpath("prices.json").read_text(encoding="utf-8"))
    return data["version"], {k: (float(v[0]), float(v[1])) for k, v in data["models"].items()}


class PriceTable:
    def __init__(self, overrides: dict[str, PriceOverride] | None = None) -> None:
        self.overrides = overrides or {}

    def lookup(self, provider: str, *models: str | None) -> Price | None:
        """The user's exact entry, then the user's `provider/*`, then the built-in table."""
        for model in models:
            if model and (o := self.overrides.get(f"{provider}/{model}")):
                return Price(o.input_per_mtok, o.output_per_mtok, "config")
        if o := self.overrides.get(f"{provider}/*"):
            return Price(o.input_per_mtok, o.output_per_mtok, "config")
        version, table = builtin()
        for model in models:
            if model and (entry := table.get(f"{provider}/{model}")):
                return Price(entry[0], entry[1], f"builtin:{version}")
        return None

    def cost(
        self,
        provider: str,
        model_requested: str,
        model_reported: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        reported_usd: float | None,
    ) -> Cost:
        if reported_usd is not None:
            return Cost(reported_usd, "ACTUAL")
        price = self.lookup(provider, model_reported, model_requested)
        if price is None or input_tokens is None or output_tokens is None:
            return Cost(None, "UNKNOWN")
        usd = (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000
        return Cost(round(usd, 10), "ESTIMATED", price.source)

    def rows(self) -> list[PriceRow]:
        """Everything applied, for `synapsectl usage prices`."""
        out = [PriceRow(key, o.input_per_mtok, o.output_per_mtok, "config") for key, o in sorted(self.overrides.items())]
        version, table = builtin()
        out += [PriceRow(key, inp, outp, f"builtin:{version}")
                for key, (inp, outp) in sorted(table.items()) if key not in self.overrides]
        return out
