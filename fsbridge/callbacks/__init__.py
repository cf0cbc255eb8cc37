"""fsbridge.callbacks."""
