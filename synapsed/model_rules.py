"""What each model takes: its reasoning control and the endpoint it is served on. Data, not
branches in the providers: each rule names the models it covers (a pattern on the model id),
maps synapse's five levels onto the API's own values, and cites the page it comes from.

A level a model does not offer is absent from its map and refused before sending (never
dropped, never replaced by another). `max` is the highest the model offers. A model no rule
names follows the last rule of its family, its family's current rule (docs/providers/*.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from synapsed.errors import SynapseError

Level = Literal["none", "low", "medium", "high", "max"]
LEVELS: tuple[Level, ...] = ("none", "low", "medium", "high", "max")
# How the API takes the level: OpenAI's reasoning_effort / reasoning.effort; Anthropic's adaptive
# thinking + output_config.effort, or a thinking budget; Gemini's thinkingLevel or thinkingBudget;
# OpenRouter's reasoning.effort; none at all.
Control = Literal["effort", "adaptive", "budget", "level", "gemini_budget", "openrouter", "none"]
Endpoint = Literal["chat", "responses"]

OPENAI_REASONING = "https://platform.openai.com/docs/guides/reasoning"
OPENAI_MODELS = "https://platform.openai.com/docs/models"
ANTHROPIC_ADAPTIVE = "https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking"
ANTHROPIC_EXTENDED = "https://platform.claude.com/docs/en/build-with-claude/extended-thinking"
GEMINI_THINKING = "https://ai.google.dev/gemini-api/docs/thinking"
OPENROUTER_REASONING = "https://openrouter.ai/docs/guides/best-practices/reasoning-tokens"


@dataclass(frozen=True)
class ModelRule:
    family: str
    pattern: str
    control: Control
    values: dict[str, str | int] = field(default_factory=dict)
    endpoint: Endpoint = "chat"
    source: str = ""
    # Said when a level is refused: what the model does take.
    note: str = ""

    def matches(self, model: str) -> bool:
        return re.search(self.pattern, model, re.IGNORECASE) is not None


def _effort(*levels: str, top: str | None = None) -> dict[str, str | int]:
    values: dict[str, str | int] = {level: level for level in levels}
    values["max"] = top or levels[-1]
    return values


RULES: tuple[ModelRule, ...] = (
    # ---- OpenAI (and Azure OpenAI's deployments of the same models) ----------------------------
    ModelRule("openai", r"^(o1-pro|o3-pro)", "effort", _effort("low", "medium", "high"), "responses", OPENAI_MODELS,
              "served only on the Responses API; takes low, medium, high"),
    ModelRule("openai", r"^gpt-5-pro", "effort", {"high": "high", "max": "high"}, "responses", OPENAI_REASONING,
              "gpt-5-pro reasons at high only (Responses API)"),
    ModelRule("openai", r"^gpt-5\.\d+-pro", "effort", _effort("medium", "high", "xhigh"), "responses", OPENAI_MODELS,
              "served only on the Responses API; takes medium, high, max (xhigh)"),
    ModelRule("openai", r"^gpt-5(\.1)?-codex-max|^gpt-5\.([2-9]|\d\d)-codex", "effort",
              _effort("low", "medium", "high", "xhigh"), "responses", OPENAI_MODELS,
              "served only on the Responses API; takes low, medium, high, max (xhigh)"),
    ModelRule("openai", r"^gpt-5(\.1)?-codex", "effort", _effort("low", "medium", "high"), "responses", OPENAI_MODELS,
              "served only on the Responses API; takes low, medium, high"),
    ModelRule("openai", r"^gpt-5-chat|^gpt-5\.\d+-chat", "none", {}, "chat", OPENAI_MODELS,
              "the chat snapshots have no reasoning control"),
    ModelRule("openai", r"^gpt-5(-mini|-nano)?(-\d{4}-\d\d-\d\d)?$", "effort", _effort("low", "medium", "high"), "chat",
              OPENAI_REASONING, "gpt-5, -mini and -nano cannot turn reasoning off (their least is 'minimal'); "
              "they take low, medium, high"),
    ModelRule("openai", r"^gpt-5\.1", "effort", _effort("none", "low", "medium", "high"), "chat", OPENAI_REASONING,
              "gpt-5.1 takes none, low, medium, high"),
    ModelRule("openai", r"^o\d", "effort", _effort("low", "medium", "high"), "chat", OPENAI_REASONING,
              "the o-series takes low, medium, high (it cannot turn reasoning off)"),
    ModelRule("openai", r"^(gpt-4|gpt-3\.5|chatgpt-)", "none", {}, "chat", OPENAI_MODELS,
              "GPT-4-era models do not reason: leave reasoning out"),
    # The current rule (GPT-5.2 and later, and any OpenAI model not named above).
    ModelRule("openai", r"", "effort", _effort("none", "low", "medium", "high", "xhigh"), "chat", OPENAI_REASONING,
              "takes none, low, medium, high, max (xhigh)"),
    # ---- Anthropic (and Claude on Vertex AI and Bedrock) -----------------------------------------
    ModelRule("anthropic", r"claude-(3-5|3-haiku|3-opus|3-sonnet|instant|2)", "none", {}, "chat", ANTHROPIC_EXTENDED,
              "Claude 3.5 and older have no extended thinking: leave reasoning out"),
    ModelRule("anthropic", r"claude-(opus-4-5|sonnet-4-5|haiku-4-5|opus-4-1|opus-4(-0)?|sonnet-4(-0)?|3-7-sonnet)"
              r"(?=$|-\d{8}|@|-v\d|-latest)", "budget", {"none": 0, "low": 2048, "medium": 8192, "high": 16384, "max": 24576}, "chat",
              ANTHROPIC_EXTENDED, "takes a thinking budget (low 2048 … max 24576 tokens)"),
    # Adaptive thinking: 4.6 and every later Claude (Opus 4.7 on refuses budget_tokens with a 400).
    ModelRule("anthropic", r"", "adaptive", {"none": "disabled", "low": "low", "medium": "medium", "high": "high",
                                              "max": "max"}, "chat", ANTHROPIC_ADAPTIVE,
              "adaptive thinking with output_config.effort low … max"),
    # ---- Gemini (and Gemini on Vertex AI) ----------------------------------------------------------
    ModelRule("gemini", r"gemini-(1\.|2\.0)", "none", {}, "chat", GEMINI_THINKING,
              "Gemini 2.0 and older do not think: leave reasoning out"),
    ModelRule("gemini", r"gemini-2\.5-pro", "gemini_budget", {"low": 1024, "medium": 8192, "high": 24576, "max": 32768},
              "chat", GEMINI_THINKING, "Gemini 2.5 Pro cannot turn thinking off; takes low, medium, high, max"),
    ModelRule("gemini", r"gemini-2\.5-flash", "gemini_budget",
              {"none": 0, "low": 1024, "medium": 8192, "high": 16384, "max": 24576}, "chat", GEMINI_THINKING,
              "takes a thinking budget, none (0) … max (24576)"),
    ModelRule("gemini", r"gemini-3(\.\d+)?-flash", "level", _effort("low", "medium", "high"), "chat", GEMINI_THINKING,
              "Gemini 3 Flash cannot turn thinking off (its least is 'minimal'); takes low, medium, high"),
    ModelRule("gemini", r"gemini-3-pro", "level", _effort("low", "high"), "chat", GEMINI_THINKING,
              "Gemini 3 Pro takes low or high, and cannot turn thinking off"),
    # The current rule (Gemini 3.1 Pro and later): low, medium, high; thinking cannot be off.
    ModelRule("gemini", r"", "level", _effort("low", "medium", "high"), "chat", GEMINI_THINKING,
              "takes low, medium, high; thinking cannot be turned off"),
    # ---- OpenRouter: one reasoning object for every model it routes --------------------------------
    ModelRule("openrouter", r"", "openrouter", _effort("none", "low", "medium", "high", "xhigh"), "chat",
              OPENROUTER_REASONING, "OpenRouter's reasoning.effort: none … max (xhigh)"),
)

# Which rule family a provider's models follow; providers not listed have no reasoning control.
FAMILY_OF_PROVIDER = {
    "openai": "openai", "azure-openai": "openai", "anthropic": "anthropic", "gemini": "gemini",
    "openrouter": "openrouter",
}


def family_for(provider: str, model: str) -> str | None:
    """Whose rules a connection's model follows: Vertex AI serves Gemini and Claude."""
    if provider == "vertex":
        return "anthropic" if _bare(model).startswith("claude") else "gemini"
    if provider == "bedrock":
        # Claude's thinking only: Nova and the other Bedrock models have no control mapped here.
        return "anthropic" if "anthropic.claude" in model else None
    return FAMILY_OF_PROVIDER.get(provider)


def _bare(model: str) -> str:
    """The model id as the rules know it: Bedrock's `us.anthropic.` and `anthropic.` prefixes,
    Vertex's `@date` and `models/` dropped."""
    model = model.removeprefix("models/")
    model = re.sub(r"^([a-z]{2,4}\.)?anthropic\.", "", model)
    return model.split("@", 1)[0]


def rule_for(family: str, model: str) -> ModelRule | None:
    bare = _bare(model)
    return next((r for r in RULES if r.family == family and r.matches(bare)), None)


def endpoint_for(provider: str, model: str) -> Endpoint:
    family = FAMILY_OF_PROVIDER.get(provider)
    rule = rule_for(family, model) if family == "openai" else None
    return rule.endpoint if rule is not None else "chat"


@dataclass(frozen=True)
class Reasoning:
    """One request's reasoning, resolved for its model: the rule and the API's value."""

    level: Level
    rule: ModelRule
    value: str | int


def resolve(provider: str, model: str, level: str | None, family: str | None = None) -> Reasoning | None:
    """The API value for `level` on this model, None when no level was asked, or bad_request
    naming `reasoning` and the model before anything is sent."""
    if level is None:
        return None
    family = family or family_for(provider, model)
    rule = rule_for(family, model) if family else None
    if rule is None or rule.control == "none":
        why = rule.note if rule is not None else f"the {provider} provider has no documented reasoning control"
        raise SynapseError("bad_request", f"reasoning={level!r} cannot be sent to {model}: {why}",
                           hint="leave reasoning out for this connection, or ask a connection whose model reasons",
                           field="reasoning")
    if level not in rule.values:
        raise SynapseError("bad_request", f"{model} does not take reasoning={level!r}: {rule.note}",
                           hint=f"pick one it takes ({', '.join(k for k in LEVELS if k in rule.values)}); see {rule.source}",
                           field="reasoning")
    return Reasoning(level, rule, rule.values[level])  # type: ignore[arg-type]
