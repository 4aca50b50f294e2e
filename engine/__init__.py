"""Pure engine: load, validate and compile definitions; expressions; calendars; state machine."""
