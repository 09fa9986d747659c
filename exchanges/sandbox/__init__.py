"""The embedded Binance-compatible USDⓈ-M sandbox.

- ``engine/``: the exchange core with no I/O (accounts, matching, algo orders, margin, funding, events).
- ``market/``: market data (replayed real klines or ticks, or a seeded synthetic market).
- ``server/``: a thin aiohttp server speaking Binance's USDⓈ-M REST and routed WebSocket protocol.
"""
