"""A plan of file changes that can be printed (diff-like), checked and applied all at once.

``fsbridge setup freeswitch`` builds a :class:`Plan` first and touches nothing until every change is known
and no conflict was found: a refusal (not a FreeSWITCH conf dir, not writable, a file it cannot merge)
changes nothing, and ``--dry-run`` prints the plan only.
"""
from __future__ import annotations

import difflib
import grp
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional


class Refusal(Exception):
    """Setup cannot go on; ``str()`` says why and what to do. Raised before anything was changed."""


@dataclass
class Change:
    """One file change. ``content`` None means delete ``path``; ``mode`` the file mode (e.g. 0o640) and
    ``group`` the owning group (set only when running as root and the group exists); ``secret`` hides the
    diff (passwords); ``note`` is printed after the path."""

    path: Path
    content: Optional[bytes]
    mode: int = 0o644
    group: Optional[str] = None
    secret: bool = False
    note: str = ""

    def current(self) -> Optional[bytes]:
        """The file's bytes now, None when absent."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def needed(self) -> bool:
        """Whether applying would change anything (content or mode)."""
        now = self.current()
        if self.content is None:
            return now is not None
        if now != self.content:
            return True
        return (self.path.stat().st_mode & 0o7777) != self.mode


@dataclass
class Plan:
    """Ordered changes plus a directory backup to make first (``backup``: (source dir, target dir))."""

    changes: List[Change] = field(default_factory=list)
    backup: Optional[tuple] = None
    restore_dirs: List[Path] = field(default_factory=list)   # created dirs to remove when empty (uninstall)

    def add(self, change: Change) -> None:
        """Append one change."""
        self.changes.append(change)

    def pending(self) -> List[Change]:
        """The changes that would change something."""
        return [c for c in self.changes if c.needed()]

    def describe(self) -> List[str]:
        """Diff-like lines: ``+ path`` (new), ``- path`` (removed), ``~ path`` with unified-diff lines
        (changed; secrets shown as ``(contents hidden)``), ``= path`` unchanged."""
        out = []
        if self.backup and not Path(self.backup[1]).exists():
            out.append(f"+ {self.backup[1]}/  (backup of {self.backup[0]}, made once)")
        for c in self.changes:
            now = c.current()
            extra = f"  ({c.note})" if c.note else ""
            if not c.needed():
                out.append(f"= {c.path}{extra}")
            elif c.content is None:
                out.append(f"- {c.path}{extra}")
            elif now is None:
                out.append(f"+ {c.path}  mode {c.mode:04o}{extra}")
            elif now == c.content:
                out.append(f"~ {c.path}  mode {c.path.stat().st_mode & 0o7777:04o} -> {c.mode:04o}{extra}")
            else:
                out.append(f"~ {c.path}{extra}")
                if c.secret:
                    out.append("    (contents hidden: the file holds a password)")
                else:
                    out.extend("    " + line.rstrip("\n") for line in unified(now, c.content, str(c.path))[2:])
        return out

    def check_writable(self) -> None:
        """Raise :class:`Refusal` if the backup's directory or a pending change's file or directory cannot
        be written."""
        if self.backup and not Path(self.backup[1]).exists():
            parent = Path(self.backup[1]).parent
            if not os.access(parent, os.W_OK):
                raise Refusal(f"{parent} is not writable (for the backup {self.backup[1]}; run as root, e.g. "
                              "with sudo); nothing was changed")
        for c in self.pending():
            target = c.path if c.path.exists() else _existing_parent(c.path)
            if not os.access(target, os.W_OK):
                raise Refusal(f"{target} is not writable (run as root, e.g. with sudo); nothing was changed")
            if c.content is None and not os.access(c.path.parent, os.W_OK):
                raise Refusal(f"{c.path.parent} is not writable; nothing was changed")

    def apply(self) -> int:
        """Make the backup (once) and every pending change; returns the number of changed files."""
        if self.backup and not Path(self.backup[1]).exists():
            shutil.copytree(self.backup[0], self.backup[1], symlinks=True)
        done = 0
        for c in self.pending():
            if c.content is None:
                c.path.unlink()
            else:
                c.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = c.path.with_name(c.path.name + ".fsbridge-tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(c.content)
                os.chmod(tmp, c.mode)
                _chgrp(tmp, c.group)
                os.replace(tmp, c.path)
            done += 1
        for d in self.restore_dirs:
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        return done


def unified(old: bytes, new: bytes, name: str) -> List[str]:
    """Unified diff lines between two versions of a text file."""
    return list(difflib.unified_diff(old.decode("utf-8", "replace").splitlines(True),
                                     new.decode("utf-8", "replace").splitlines(True), name, name, n=1))


def _existing_parent(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def _chgrp(path: Path, group: Optional[str]) -> None:
    if not group or os.geteuid() != 0:
        return
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return
    os.chown(path, 0, gid)
