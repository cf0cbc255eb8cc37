"""Operator commands: ``fsbridge setup freeswitch`` (install beside FreeSWITCH) and ``fsbridge doctor``
(check an installation). Entry points only; nothing in the bridge imports this package."""
