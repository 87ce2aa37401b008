"""Extract the components the OpenAI contract tests need, with everything they reference, from
OpenAI's published OpenAPI document into tests/contracts/schemas/openai.json (run by hand):

    python tests/contracts/extract_openapi.py PATH/TO/openapi.json COMMIT DATE

The document is github.com/openai/openai-openapi (openapi.json); the full file is 3.4 MB, the
extract keeps its schemas byte-for-byte, only fewer of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOTS = ("CreateChatCompletionRequest", "CreateChatCompletionResponse", "ListModelsResponse", "Model", "ErrorResponse",
         "CreateResponse", "Response")
OUT = Path(__file__).parent / "schemas" / "openai.json"


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def closure(schemas: dict[str, Any]) -> dict[str, Any]:
    wanted, todo = set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += sorted(refs(schemas[name]) - wanted)
    return {name: schemas[name] for name in sorted(wanted)}


def main() -> None:
    source, commit, date = sys.argv[1:4]
    document = json.loads(Path(source).read_text())
    OUT.write_text(json.dumps({
        "source": "https://github.com/openai/openai-openapi/blob/" + commit + "/openapi.json",
        "retrieved": date,
        "openapi": document["openapi"],
        "components": {"schemas": closure(document["components"]["schemas"])},
    }, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
