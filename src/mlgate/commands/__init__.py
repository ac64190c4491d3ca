"""Operator commands: argparse actions, tables and printing. Nothing below this package prints."""
