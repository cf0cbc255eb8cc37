"""fsbridge.api."""
