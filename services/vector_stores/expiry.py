"""`expires_after`: a store idle past its expiry becomes `expired` and its vectors are removed (its
record and files stay, as OpenAI keeps an expired store listed until it is deleted)."""

import time

from services.vector_stores.context import Context


async def sweep(ctx: Context) -> int:
    """Expire the stores past their time; how many."""
    now = int(time.time())
    expired = 0
    for record in await ctx.tables.stores.find({"expires_at": {"$gt": 0, "$lte": now}}):
        # Claimed by clearing `expires_at`: two replicas never both remove the same store's vectors.
        if await ctx.tables.stores.update({"_id": record.id, "expires_at": record.expires_at},
                                          {"expires_at": 0, "expired": True}) is None:
            continue
        await ctx.index.delete(record.id)
        expired += 1
    return expired
