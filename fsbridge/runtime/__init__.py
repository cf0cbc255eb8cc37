"""fsbridge.runtime."""
