"""fsbridge.engines.standalone."""
