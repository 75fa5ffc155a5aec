"""`/v1/batches` (being built: see README, "Batch API")."""

ROUTES: tuple = ()


async def start(ctx) -> list:
    return []
