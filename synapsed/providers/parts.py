"""One message with its attachments, as each API's own parts: the file blocks, then the images,
then the message's text. A message without images keeps each API's plain form where it has one
(a string), so text-only requests are unchanged on the wire."""

from __future__ import annotations

from typing import Any, Literal

from synapsed.protocol import ImageFile, Message

Segment = tuple[Literal["text"], str] | tuple[Literal["image"], ImageFile]


def segments(message: Message) -> list[Segment]:
    out: list[Segment] = []
    files = message.file_blocks()
    if files:
        out.append(("text", files))
    out += [("image", image) for image in message.images]
    out.append(("text", message.content))
    return out


def data_uri(image: ImageFile) -> str:
    return f"data:{image.media_type};base64,{image.data}"


def openai_content(message: Message) -> str | list[dict[str, Any]]:
    """Chat Completions: text and image_url parts; one string while there is no image, which every
    OpenAI-compatible server takes (not all take a parts list)."""
    if not message.images:
        return message.as_text()
    return [{"type": "text", "text": value} if kind == "text" else
            {"type": "image_url", "image_url": {"url": data_uri(value)}}  # type: ignore[arg-type]
            for kind, value in segments(message)]


def responses_content(message: Message) -> str | list[dict[str, Any]]:
    """The Responses API: input_text and input_image parts (one string while there is no image)."""
    if not message.images:
        return message.as_text()
    return [{"type": "input_text", "text": value} if kind == "text" else
            {"type": "input_image", "image_url": data_uri(value), "detail": "auto"}  # type: ignore[arg-type]
            for kind, value in segments(message)]


def anthropic_blocks(message: Message) -> list[dict[str, Any]]:
    """Messages API content blocks (always a list, so a cache breakpoint can sit on a block)."""
    blocks: list[dict[str, Any]] = []
    for kind, value in segments(message):
        if kind == "text":
            blocks.append({"type": "text", "text": value})
        else:
            image: ImageFile = value  # type: ignore[assignment]
            blocks.append({"type": "image", "source": {"type": "base64", "media_type": image.media_type,
                                                       "data": image.data}})
    return blocks


def gemini_parts(message: Message) -> list[dict[str, Any]]:
    """generateContent parts: text and inlineData."""
    if not message.attachments:
        return [{"text": message.content}]
    return [{"text": value} if kind == "text" else
            {"inlineData": {"mimeType": value.media_type, "data": value.data}}  # type: ignore[union-attr]
            for kind, value in segments(message)]


def bedrock_content(message: Message) -> list[dict[str, Any]]:
    """Converse content blocks: text and image (bytes travel base64 in the JSON API)."""
    out: list[dict[str, Any]] = []
    for kind, value in segments(message):
        if kind == "text":
            out.append({"text": value})
        else:
            image: ImageFile = value  # type: ignore[assignment]
            out.append({"image": {"format": image.media_type.removeprefix("image/"), "source": {"bytes": image.data}}})
    return out
