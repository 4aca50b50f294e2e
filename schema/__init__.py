"""JSON Schemas (Draft 2020-12) for every kind of definition file; data only."""
