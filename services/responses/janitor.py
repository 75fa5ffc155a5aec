"""The sweep, run by every replica: a response that a replica was running in the foreground and
that stopped being kept alive (the replica died mid-turn) ends `failed`; stored responses past
their retention are deleted with their events. Each change is a conditional update or a delete,
so two replicas sweeping at once do each thing once."""

import logging
import time

from services.responses.context import Context

log = logging.getLogger("responses")
ABANDONED = {"code": "server_error", "message": "The server running this response stopped; create it again."}


async def sweep(ctx: Context, *, now: float | None = None) -> int:
    """One sweep; how many responses it ended or deleted."""
    now = time.time() if now is None else now
    table, done = ctx.tables.responses, 0
    for record in await table.find({"response.status": "in_progress", "response.background": False,
                                    "alive_until": {"$lt": now}}, limit=100):
        if await table.update({"_id": record.id, "response.status": "in_progress", "alive_until": record.alive_until},
                              {"response.status": "failed", "response.error": ABANDONED}) is not None:
            log.warning("response %s: its replica stopped keeping it alive; it ends failed", record.id)
            done += 1
    if ctx.settings.retention_days > 0:
        cutoff = int(now - ctx.settings.retention_days * 86400)
        for record in await table.find({"response.created_at": {"$lt": cutoff}}, limit=100):
            await ctx.events.delete(record.id)
            done += await table.delete({"_id": record.id})
    return done
