"""fsbridge.conference."""
