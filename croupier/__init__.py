"""The Croupier: bracketed orders, position tracking and order execution (issue 5)."""
