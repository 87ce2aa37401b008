"""What a model can take in one request: its context window (tokens) and whether it reads images,
and what each provider's API allows for images. Data, each line with the page it was read from;
a connection's `max_input_tokens` option overrides the window for models not listed (or served
with another window, such as a local model's num_ctx).

Estimates, not tokenizers: text counts a token per 4 characters, an image IMAGE_TOKENS. A call
whose estimate (plus max_output_tokens) is over the window is `context_too_long` before anything
is sent; a model not listed and without the option is left to the provider, whose own refusal
is `context_too_long` too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from synapsed.errors import SynapseError
from synapsed.protocol import Attachment, ChatRequest, Message, TextFile

# About what one image of up to 1.15 megapixels costs on Anthropic's and OpenAI's scales.
IMAGE_TOKENS = 1600

OPENAI_MODELS = "https://platform.openai.com/docs/models"
ANTHROPIC_MODELS = "https://platform.claude.com/docs/en/about-claude/models/overview"
GEMINI_MODELS = "https://ai.google.dev/gemini-api/docs/models"


@dataclass(frozen=True)
class ModelLimit:
    pattern: str  # searched in the model id (Bedrock and Vertex ids carry the same names)
    window: int
    images: bool
    page: str


LIMITS: tuple[ModelLimit, ...] = (
    ModelLimit(r"gpt-5(\.\d+)?(-mini|-nano|-pro|-codex)?", 400_000, True, OPENAI_MODELS),
    ModelLimit(r"gpt-4\.1", 1_047_576, True, OPENAI_MODELS),
    ModelLimit(r"gpt-4o", 128_000, True, OPENAI_MODELS),
    ModelLimit(r"\bo(3|4-mini)\b", 200_000, True, OPENAI_MODELS),
    ModelLimit(r"gpt-3\.5-turbo", 16_385, False, OPENAI_MODELS),
    ModelLimit(r"claude-opus-4-8", 1_000_000, True, "https://platform.claude.com/docs/en/models/opus-4-8/overview"),
    ModelLimit(r"claude-opus-4-7", 1_000_000, True,
               "https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-opus-4-7.md"),
    ModelLimit(r"claude-opus-4-6", 1_000_000, True, "https://platform.claude.com/docs/en/models/opus-4-6/overview.md"),
    ModelLimit(r"claude-sonnet-4-6", 1_000_000, True, "https://platform.claude.com/docs/zh-CN/models/sonnet-4-6/overview.md"),
    # The Claude 5 generation: 1M tokens, text and images in, on every model page read.
    ModelLimit(r"claude-opus-5(-5)?\b", 1_000_000, True, "https://platform.claude.com/docs/zh-CN/models/opus-5-5/overview"),
    ModelLimit(r"claude-sonnet-5(-5)?\b", 1_000_000, True,
               "https://platform.claude.com/docs/zh-CN/models/sonnet-5-5/overview"),
    ModelLimit(r"claude-(haiku-5-5|fable-5-\d)", 1_000_000, True,
               "https://platform.claude.com/docs/about-claude/models/whats-new-opus-5"),
    ModelLimit(r"claude-opus-4-5", 200_000, True, "https://platform.claude.com/docs/pt-BR/models/opus-4-5/overview.md"),
    ModelLimit(r"claude-haiku-4-5", 200_000, True, ANTHROPIC_MODELS),
    ModelLimit(r"claude-(opus-4-1|opus-4-0|sonnet-4-0|sonnet-4-5)", 200_000, True, ANTHROPIC_MODELS),
    ModelLimit(r"gemini-(2\.5|3(\.\d+)?)-(pro|flash)", 1_048_576, True, GEMINI_MODELS),
    ModelLimit(r"gemini-2\.0-flash", 1_048_576, True, GEMINI_MODELS),
)

# Per request, as each API documents it: (images, bytes per image).
IMAGE_RULES: dict[str, tuple[int, int, str]] = {
    "openai": (500, 50 * 1024 * 1024, "https://platform.openai.com/docs/guides/images-vision"),
    "azure-openai": (10, 20 * 1024 * 1024, "https://learn.microsoft.com/azure/ai-foundry/openai/how-to/gpt-with-vision"),
    "anthropic": (100, 5 * 1024 * 1024, "https://platform.claude.com/docs/en/build-with-claude/vision"),
    "gemini": (3000, 7 * 1024 * 1024, "https://ai.google.dev/gemini-api/docs/image-understanding"),
    "vertex": (3000, 7 * 1024 * 1024, "https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/image-understanding"),
    "bedrock": (20, 3_750_000, "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html"),
    "ollama": (16, 20 * 1024 * 1024, "https://github.com/ollama/ollama/blob/main/docs/api.md"),
}
# OpenAI-compatible services take OpenAI's image parts; their own limits are theirs to enforce.
COMPATIBLE_IMAGES = (100, 20 * 1024 * 1024)


def limit_for(model: str) -> ModelLimit | None:
    return next((m for m in LIMITS if re.search(m.pattern, model)), None)


def window(model: str, options: dict[str, str]) -> int | None:
    configured = options.get("max_input_tokens")
    if configured:
        return int(configured)
    found = limit_for(model)
    return found.window if found is not None else None


def text_tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def message_tokens(message: Message) -> int:
    return text_tokens(len(message.as_text())) + IMAGE_TOKENS * len(message.images)


def attachment_tokens(attachment: Attachment) -> int:
    return text_tokens(attachment.size) if isinstance(attachment, TextFile) else IMAGE_TOKENS


def estimate(request: ChatRequest) -> int:
    text = len(request.system or "") + sum(len(m.as_text()) for m in request.messages)
    images = sum(len(m.images) for m in request.messages)
    return text_tokens(text) + images * IMAGE_TOKENS


def check(provider: str, model: str, options: dict[str, str], request: ChatRequest, takes_images: bool) -> None:
    """Refuse before sending what the model cannot take: images it cannot read, or that break the
    provider's limits, and a request over its context window."""
    images = [i for m in request.messages for i in m.images]
    if images:
        if not takes_images:
            raise SynapseError("bad_request", f"{provider} connections take text only: images cannot be sent",
                               hint="use a connection of OpenAI, Anthropic, Gemini, Vertex AI, Bedrock or Ollama",
                               field="files")
        found = limit_for(model)
        if found is not None and not found.images:
            raise SynapseError("bad_request", f"{model} does not read images", field="files",
                               hint=f"send the images to a model that does (see {found.page})")
        count, size, page = IMAGE_RULES.get(provider, (*COMPATIBLE_IMAGES, ""))
        if len(images) > count:
            raise SynapseError("bad_request", f"{len(images)} images in one request; {provider} takes at most {count}",
                               field="files", hint=page or "send fewer images")
        big = next((i for i in images if i.size > size), None)
        if big is not None:
            raise SynapseError("bad_request", f"{big.path or 'an image'} is {big.size:,} bytes; {provider} takes at "
                               f"most {size:,} per image", field="files", hint=page or "send a smaller image")
    limit = window(model, options)
    if limit is None:
        return
    wanted = estimate(request) + (request.max_output_tokens or 0)
    if wanted > limit:
        raise SynapseError("context_too_long", f"about {wanted:,} tokens ({estimate(request):,} in, "
                           f"{request.max_output_tokens or 0:,} out) for a {limit:,}-token window of {model}",
                           hint="send fewer or smaller files, or shorten the thread; a connection's "
                                "--option max_input_tokens=N sets the window for models synapse does not know",
                           estimated_tokens=wanted, window=limit)
