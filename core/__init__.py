"""Casino core: domain types, configuration, clock, logging and (later) the engine, player and risk."""
