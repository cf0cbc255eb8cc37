"""fsbridge.callbacks: conference status callbacks in the Twilio, Telnyx and jambonz formats.

Modules: :mod:`.twilio`, :mod:`.telnyx`, :mod:`.jambonz` (DomainEvent → :class:`.request.CallbackRequest`),
:mod:`.render` (pick by dialect), :mod:`.signing` (all webhook signatures), :mod:`.overrides` (``#rc=`` …
URL fragments → delivery policy), :mod:`.outbox` (durable table), :mod:`.dispatcher` (ordered, retried
delivery). ``Dispatcher`` is importable from here, lazily, so importing ``fsbridge.callbacks.signing`` does
not pull in gevent/urllib3; the renderer entry point is ``fsbridge.callbacks.render.render``.
See docs/callbacks.md.
"""


def __getattr__(name):
    if name == "Dispatcher":
        from .dispatcher import Dispatcher

        return Dispatcher
    raise AttributeError(name)
