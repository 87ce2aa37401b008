"""threads.* methods: list, read, export, trim, delete and clear the kept conversations."""

from __future__ import annotations

from synapsed import protocol as p
from synapsed.rpc.dispatch import Method
from synapsed.services import Services
from synapsed.threads.rules import as_jsonl, as_markdown
from synapsed.usage.queries import parse_when
from synapsed.validation import check_page


def methods(services: Services) -> dict[str, Method]:
    threads = services.threads

    async def list_(params: p.ThreadListParams) -> p.ThreadList:
        check_page(params.limit, params.offset)
        return threads.summaries(params.limit, params.offset)

    async def get(params: p.ThreadIdParams) -> p.ThreadView:
        return threads.view(params.id)

    async def export(params: p.ThreadExportParams) -> p.ThreadExport:
        view = threads.view(params.id)
        text = as_markdown(view) if params.format == "md" else as_jsonl(view)
        return p.ThreadExport(id=view.id, format=params.format, text=text)

    async def trim(params: p.ThreadTrimParams) -> p.ThreadTrimResult:
        return threads.trim(params.id, params.keep)

    async def delete(params: p.ThreadIdParams) -> p.ThreadDeleteResult:
        return p.ThreadDeleteResult(id=params.id, deleted=threads.delete(params.id))

    async def clear(params: p.ThreadClearParams) -> p.ThreadClearResult:
        cutoff = parse_when(params.before, "before") if params.before else None
        return p.ThreadClearResult(deleted=threads.clear(cutoff), before=params.before)

    return {
        "threads.list": Method(p.ThreadListParams, list_),
        "threads.get": Method(p.ThreadIdParams, get),
        "threads.export": Method(p.ThreadExportParams, export),
        "threads.trim": Method(p.ThreadTrimParams, trim),
        "threads.delete": Method(p.ThreadIdParams, delete),
        "threads.clear": Method(p.ThreadClearParams, clear),
    }
