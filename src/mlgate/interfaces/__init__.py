"""Compatibility only: the pyfunc loader module that older mlgate artifacts name (see native.py)."""
