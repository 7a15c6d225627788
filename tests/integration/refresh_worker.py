"""One OS process asking for a specialist's token at an agreed moment (for the PG test).

Usage: python -m tests.integration.refresh_worker SPECIALIST_ID START_AT_EPOCH
Prints the SHA-256 of the token it got, never the token.
"""

import asyncio
import hashlib
import sys
import time

from specialistly.config import load_settings
from specialistly.context import build_context


async def main(specialist_id: int, start_at: float) -> None:
    ctx = build_context(load_settings())
    try:
        async with ctx.db.reading() as session:  # connect before the race starts
            await session.connection()
        await asyncio.sleep(max(0.0, start_at - time.time()))
        access = await ctx.connections.get_valid_token(specialist_id)
        print(hashlib.sha256(access.token.encode()).hexdigest())
    finally:
        await ctx.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
