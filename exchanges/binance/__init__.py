"""The native Binance USDⓈ-M futures connector: signed REST, routed streams, rate limits, circuit breakers.

See ``docs/CONNECTOR.md`` for the component map.
"""
