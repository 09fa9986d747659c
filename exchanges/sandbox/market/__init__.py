"""Market data of the sandbox: replayed real klines or ticks, or a seeded synthetic market.

``MarketReplay`` (in :mod:`.replay`) is the facade the runner and the server use.
"""
