"""fsbridge.demo."""
