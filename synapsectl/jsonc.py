"""Surgical edits of JSON-with-comments files: add, replace or remove one member of an object and
leave every other byte (comments, order, indentation, trailing commas) exactly as it was.

IDE config files (VS Code's and Cursor's mcp.json) are JSONC that people comment by hand, and a
rewrite through `json` would drop their comments. The Python libraries that round-trip JSONC
either rebuild the document from a model or run a Node.js helper; an edit here is a splice at
spans that a small parser records, so nothing else can change. `loads` gives plain values with
line/column errors; `set_member` / `remove_member` return new text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_WS = re.compile(r"[ \t\r\n]+")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_LITERALS = {"true": True, "false": False, "null": None}
# Far past any IDE config; the parser recurses per level, and Python's stack is ~1000 frames.
MAX_DEPTH = 200


class JsoncError(ValueError):
    def __init__(self, message: str, text: str, pos: int) -> None:
        self.reason = message
        self.line = text.count("\n", 0, pos) + 1
        self.column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        super().__init__(f"{message} at line {self.line}, column {self.column}")


@dataclass
class Member:
    key: str
    start: int  # the key's opening quote
    value: Node
    comma_end: int | None = None  # just past the comma that follows the value, if any


@dataclass
class Node:
    start: int
    end: int
    value: Any = None
    members: list[Member] = field(default_factory=list)  # objects only
    is_object: bool = False

    def member(self, key: str) -> Member | None:
        return next((m for m in self.members if m.key == key), None)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def fail(self, message: str) -> JsoncError:
        return JsoncError(message, self.text, self.pos)

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            if match := _WS.match(text, self.pos):
                self.pos = match.end()
            elif text.startswith("//", self.pos):
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline < 0 else newline + 1
            elif text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                if close < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = close + 2
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self) -> Node:
        char = self.peek()
        start = self.pos
        if char and char in "{[":
            if self.depth == MAX_DEPTH:
                raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
            self.depth += 1
            try:
                return self.obj() if char == "{" else self.array()
            finally:
                self.depth -= 1
        if char == '"':
            key = self.string()
            return Node(start, self.pos, key)
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Node(start, self.pos, literal)
        if match := _NUMBER.match(self.text, self.pos):
            self.pos = match.end()
            return Node(start, self.pos, json.loads(match.group()))
        raise self.fail("expected a value" if char else "unexpected end of file")

    def string(self) -> str:
        match = _STRING.match(self.text, self.pos)
        if match is None:
            raise self.fail("invalid string")
        self.pos = match.end()
        return str(json.loads(match.group()))

    def obj(self) -> Node:
        node = Node(self.pos, 0, {}, is_object=True)
        self.pos += 1
        while self.peek() != "}":
            if self.peek() != '"':
                raise self.fail("expected a quoted key or '}'")
            key_start = self.pos
            key = self.string()
            if self.peek() != ":":
                raise self.fail("expected ':' after the key")
            self.pos += 1
            member = Member(key, key_start, self.value())
            node.members.append(member)
            node.value[key] = member.value.value
            if self.peek() == ",":
                self.pos += 1
                member.comma_end = self.pos
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}'")
        self.pos += 1
        node.end = self.pos
        return node

    def array(self) -> Node:
        node = Node(self.pos, 0, [])
        self.pos += 1
        while self.peek() != "]":
            node.value.append(self.value().value)
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise self.fail("expected ',' or ']'")
        self.pos += 1
        node.end = self.pos
        return node


def parse(text: str) -> Node:
    """The document's root value with the spans of every object member."""
    parser = _Parser(text)
    root = parser.value()
    if parser.peek():
        raise parser.fail("unexpected text after the document")
    return root


def loads(text: str) -> Any:
    return parse(text).value


def _indent_of(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    return re.match(r"[ \t]*", text[line_start:]).group()  # type: ignore[union-attr]


def _dump(value: Any, indent: str, step: str) -> str:
    """JSON for `value` whose continuation lines sit at `indent`."""
    return json.dumps(value, indent=step, ensure_ascii=False).replace("\n", "\n" + indent)


def _step(text: str) -> str:
    """The file's own indentation unit (two spaces when it has none to copy)."""
    match = re.search(r"\n([ \t]+)\S", text)
    return match.group(1) if match else "  "


def set_member(text: str, path: list[str], value: Any) -> str:
    """Set object member `path` (creating missing objects on the way) to `value`."""
    if not text.strip():
        text = "{}\n"
    root = parse(text)
    if not root.is_object:
        raise JsoncError("the file's top level is not an object", text, root.start)
    step = _step(text)
    node, depth = root, 1
    for i, key in enumerate(path):
        member = node.member(key)
        rest = path[i + 1:]
        if member is None:
            nested: Any = value
            for inner in reversed(rest):
                nested = {inner: nested}
            return _insert(text, node, key, nested, step * depth, step)
        if not rest:
            indent = _indent_of(text, member.start)
            replacement = _dump(value, indent, step)
            return text[:member.value.start] + replacement + text[member.value.end:]
        if not member.value.is_object:
            raise JsoncError(f"{key!r} is not an object", text, member.value.start)
        node, depth = member.value, depth + 1
    raise ValueError("an empty path")


def _insert(text: str, obj: Node, key: str, value: Any, indent: str, step: str) -> str:
    entry = f"{json.dumps(key, ensure_ascii=False)}: {_dump(value, indent, step)}"
    if not obj.members:
        inner = text[obj.start + 1:obj.end - 1]
        # Whatever the empty object held (a newline, a comment) stays after the new member.
        tail = inner if inner.strip(" \t") else "\n" + indent[: -len(step)] + inner
        return text[:obj.start + 1] + f"\n{indent}{entry}" + tail + text[obj.end - 1:]
    last = obj.members[-1]
    if last.comma_end is not None:  # a trailing comma (JSONC): add after it, keep it
        return text[:last.comma_end] + f"\n{indent}{entry}," + text[last.comma_end:]
    indent = _indent_of(text, last.start) if "\n" in text[obj.start:last.start] else indent
    return text[:last.value.end] + f",\n{indent}{entry}" + text[last.value.end:]


def remove_member(text: str, path: list[str]) -> str:
    """Remove object member `path`; the inverse of `set_member` adding it as the last member."""
    node = parse(text)
    for key in path[:-1]:
        member = node.member(key)
        if member is None or not member.value.is_object:
            return text
        node = member.value
    members = node.members
    index = next((i for i, m in enumerate(members) if m.key == path[-1]), None)
    if index is None:
        return text
    member = members[index]
    if len(members) == 1:
        end = member.comma_end if member.comma_end is not None else member.value.end
        rest = text[end:node.end - 1]
        return text[:node.start + 1] + ("" if not rest.strip() else rest) + text[node.end - 1:]
    if index == len(members) - 1 and member.comma_end is None:
        previous = members[index - 1]
        assert previous.comma_end is not None
        return text[:previous.comma_end - 1] + text[member.value.end:]
    # A member followed by a comma: drop from the end of what precedes it through that comma.
    cut_start = members[index - 1].comma_end if index > 0 else node.start + 1
    assert cut_start is not None and member.comma_end is not None
    return text[:cut_start] + text[member.comma_end:]
