"""The sandbox's aiohttp server: Binance USDⓈ-M REST under /fapi and routed WebSocket streams."""
