"""The sandbox's exchange core: no I/O, fed market events and commands, emitting user events."""
