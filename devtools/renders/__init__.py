"""The demo's data making: renderers, other foods, realism figures (python -m devtools.renders)."""
