"""fsbridge.engines."""
