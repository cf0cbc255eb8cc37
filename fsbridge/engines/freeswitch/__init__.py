"""fsbridge.engines.freeswitch."""
