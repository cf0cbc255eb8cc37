"""fsbridge.store."""
