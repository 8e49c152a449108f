"""Operator tools: the ``bria-ledger`` command (list, counts, stuck, retry, abandon, ...)."""

from bria_dagster.ops_cli.cli import build_parser, main, open_ledger

__all__ = ["build_parser", "main", "open_ledger"]
