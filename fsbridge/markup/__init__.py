"""fsbridge.markup."""
