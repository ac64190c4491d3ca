"""What the wire carries: every tool's result (and argument) models.

The bottom layer: it imports nothing of mlgate but the error tree, so every layer above
(models, serving, the use cases, tools, the server) can return these types.
"""
