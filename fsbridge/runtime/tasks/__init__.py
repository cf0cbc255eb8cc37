"""fsbridge.runtime.tasks."""
