"""The outbox's group commit shared with the conference store (issues 16 / 21; :mod:`fsbridge.store.batch`).

:meth:`SharedCommit.share_commit` makes the store a *source* of the dispatcher's
:class:`~fsbridge.callbacks.groupcommit.GroupWriter`: its recorded DomainEvents are written in the writer's
transactions, before the outbox rows, so a callback never leaves before the rows it describes are committed.
"""
from __future__ import annotations


class SharedCommit:
    """The sharing half of :class:`~fsbridge.callbacks.dispatcher.Dispatcher` (state: ``engine``,
    ``_sources``, ``_writer``, ``_running``, ``_conn()``, set up by the Dispatcher)."""

    def share_commit(self, store) -> bool:
        """Commit ``store``'s recorded DomainEvents in the outbox's group commit, before the outbox rows
        (``store``: a :class:`fsbridge.store.Store`, or anything delegating to one). Only for a store on this
        dispatcher's own engine: False (nothing changed) otherwise."""
        if getattr(store, "engine", None) is not self.engine or not hasattr(store, "share_commit"):
            return False
        if store not in self._sources:
            self._sources.append(store)
            if self._writer is not None:
                self._writer.add_source(store)
            store.share_commit(self._source_buffered, lambda: self._conn().flush())
        return True

    def _source_buffered(self) -> None:
        """A shared store buffered an event: commit within the window — at once while not delivering (before
        :meth:`start`, after :meth:`stop`)."""
        writer = self._conn()
        if self._running:
            writer.schedule()
        else:
            writer.flush()
