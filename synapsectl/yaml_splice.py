"""One entry set in, or taken out of, a YAML config file by editing its text: the user's comments,
order and layout survive, as synapsectl/jsonc.py does for JSON. Goose keeps its servers in a
mapping (`extensions: {name: {...}}`), Continue in a list of named items (`mcpServers: [{name: ...}]`).

Only block-style containers at the top level are edited; PyYAML reads every result back (the
caller checks that nothing but the one entry changed). An entry is written on its own lines, after
the container's last line of content; taking it out removes exactly those lines again, so
install followed by uninstall gives back the file byte for byte.
"""

from __future__ import annotations

import re
from typing import Any

from synapsed.ide_config import yaml_block


class YamlError(Exception):
    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line, self.column = reason, line, column


def loads(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise YamlError(str(exc.problem or exc), mark.line + 1 if mark else None,
                        mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _container_line(lines: list[str], key: str) -> int | None:
    """The top-level `key:` line; a flow-style or scalar value there cannot be spliced."""
    pattern = re.compile(rf'^(?:{re.escape(key)}|"{re.escape(key)}"|\'{re.escape(key)}\')[ \t]*:(?P<rest>.*)$')
    for index, line in enumerate(lines):
        found = pattern.match(line.rstrip("\r\n"))
        if found is None:
            continue
        rest = found["rest"].split(" #", 1)[0].strip()
        if rest.startswith("#"):
            rest = ""
        if rest:
            raise YamlError(f"{key!r} is written in flow style ({rest[:40]}); write it as a block to let synapsectl "
                            "edit it", index + 1, 1)
        return index
    return None


def _block_end(lines: list[str], start: int, sequence: bool) -> int:
    """After the last content line of the top-level block that begins at `start`."""
    end = start + 1
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not _is_content(line):
            continue
        if _indent(line) > 0 or (sequence and line.startswith("-")):
            end = index + 1
        else:
            break
    return end


def _child_indent(lines: list[str], start: int, end: int, default: int) -> int:
    for line in lines[start + 1:end]:
        if _is_content(line):
            return _indent(line)
    return default


def _insert(lines: list[str], at: int, new: list[str]) -> list[str]:
    """`new` (lines without line ends) inserted before index `at`. At the end of a file that lacks
    a final newline, the newline goes before them instead, so that removing them restores it."""
    if at == len(lines) and lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n", *(f"{line}\n" for line in new[:-1]), new[-1]]
    return [*lines[:at], *(f"{line}\n" for line in new), *lines[at:]]


def _remove(lines: list[str], start: int, end: int) -> list[str]:
    """Lines [start, end) removed; a removed last line without a newline takes the one before it."""
    kept = [*lines[:start], *lines[end:]]
    if end == len(lines) and lines and not lines[-1].endswith("\n") and start > 0:
        kept[start - 1] = kept[start - 1].rstrip("\n")
    return kept


def _entry_end(lines: list[str], start: int, limit: int, indent: int) -> int:
    """After the last content line of the entry that begins at `start` (its key or `- ` line)."""
    end = start + 1
    for index in range(start + 1, limit):
        line = lines[index]
        if not _is_content(line):
            continue
        if _indent(line) <= indent:
            break
        end = index + 1
    return end


def _map_entry(lines: list[str], start: int, end: int, indent: int, name: str) -> tuple[int, int] | None:
    pattern = re.compile(rf'^ {{{indent}}}(?:{re.escape(name)}|"{re.escape(name)}"|\'{re.escape(name)}\')[ \t]*:')
    for index in range(start + 1, end):
        if pattern.match(lines[index]):
            return index, _entry_end(lines, index, end, indent)
    return None


def _list_entry(lines: list[str], start: int, end: int, indent: int, name: str) -> tuple[int, int] | None:
    for index in range(start + 1, end):
        line = lines[index]
        if _indent(line) == indent and line[indent:].startswith("-"):
            stop = _entry_end(lines, index, end, indent)
            item = loads("".join(lines[index:stop]))
            if isinstance(item, list) and item and isinstance(item[0], dict) and item[0].get("name") == name:
                return index, stop
    return None


def _entry_lines(value: dict[str, Any], name: str, indent: int, sequence: bool) -> list[str]:
    pad = " " * indent
    if sequence:
        head, *rest = yaml_block(value, indent + 2)
        return [f"{pad}- {head.lstrip()}", *rest]
    return [f"{pad}{name}:", *yaml_block(value, indent + 2)]


def set_entry(text: str, container: str, name: str, value: dict[str, Any], sequence: bool) -> str:
    """The text with entry `name` of the top-level `container` set to `value` (replaced in place
    when it is there, else added after the container's last entry, the container made if need be)."""
    lines = text.splitlines(keepends=True)
    at = _container_line(lines, container)
    if at is None:
        return "".join(_insert(lines, len(lines), [f"{container}:", *_entry_lines(value, name, 2, sequence)]))
    end = _block_end(lines, at, sequence)
    indent = _child_indent(lines, at, end, 2)
    find = _list_entry if sequence else _map_entry
    found = find(lines, at, end, indent, name)
    new = _entry_lines(value, name, indent, sequence)
    if found is not None:
        first, last = found
        return "".join([*lines[:first], *(f"{line}\n" for line in new[:-1]),
                        new[-1] + ("\n" if lines[last - 1].endswith("\n") else ""), *lines[last:]])
    return "".join(_insert(lines, end, new))


def remove_entry(text: str, container: str, name: str, sequence: bool, drop_container: bool) -> str:
    """The text without entry `name` (and without the container, with `drop_container`)."""
    lines = text.splitlines(keepends=True)
    at = _container_line(lines, container)
    if at is None:
        return text
    end = _block_end(lines, at, sequence)
    if drop_container:
        return "".join(_remove(lines, at, end))
    indent = _child_indent(lines, at, end, 2)
    found = (_list_entry if sequence else _map_entry)(lines, at, end, indent, name)
    if found is None:
        return text
    return "".join(_remove(lines, *found))
