"""A standalone Python port of Erlang's telemetry, with metrics and reporters."""
