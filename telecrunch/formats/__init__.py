"""Text output formats: records as InfluxDB line protocol, JSON lines and CSV bytes.

Pure functions from ``Columns`` to bytes; the engine's sinks write what they return.
"""
