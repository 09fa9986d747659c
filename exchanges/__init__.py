"""Exchange adapters and the embedded Binance-compatible sandbox."""
