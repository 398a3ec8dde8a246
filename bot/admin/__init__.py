"""Operator commands (CLI only, never over HTTP): imports, notices, venues and tracing."""
