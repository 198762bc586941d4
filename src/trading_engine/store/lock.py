"""The one writer: a cross-process, cross-thread lock on ``models/.lock``.

Open-file-description locks (Linux ``F_OFD_SETLK``) belong to one ``open()``, so two threads of
one process exclude each other as two processes do, the kernel drops the lock when its holder
dies, and ``F_OFD_GETLK`` lets status *probe* the lock without taking it (a probe that took the
lock would make a concurrent rollback fail). After taking the lock we check that the file we
locked is still the one at that path: if someone deleted or replaced it, the lock guards
nothing and we retry on the new file.
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

from ..errors import UNAVAILABLE_ERRNOS, AlreadyRunning, store_unavailable

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
_FLOCK = "hhqqi4x"
_OFD_SET = getattr(fcntl, "F_OFD_SETLK", None)
_OFD_GET = getattr(fcntl, "F_OFD_GETLK", None)


def _request(kind: int) -> bytes:
    return struct.pack(_FLOCK, kind, os.SEEK_SET, 0, 0, 0)


class WriterLock:
    """Non-blocking exclusive lock; ``acquire`` raises ``AlreadyRunning`` when it is held."""

    def __init__(self, path: Path, busy_message: str) -> None:
        self.path = Path(path)
        self.busy_message = busy_message
        self._descriptor: int | None = None

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            if error.errno in UNAVAILABLE_ERRNOS:
                # A read-only folder: an existing lock file can still be opened for reading,
                # but then nobody can write anyway.
                raise store_unavailable(error, str(self.path)) from None
            raise

    @staticmethod
    def _try_lock(descriptor: int) -> bool:
        try:
            if _OFD_SET is not None:
                fcntl.fcntl(descriptor, _OFD_SET, _request(fcntl.F_WRLCK))
            else:  # not Linux: flock is also per open file description
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as error:
            if error.errno in (11, 13):  # EAGAIN / EACCES: held
                return False
            raise
        return True

    def _still_at_path(self, descriptor: int) -> bool:
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(descriptor)
        return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)

    def acquire(self) -> None:
        if self._descriptor is not None:
            raise AlreadyRunning(self.busy_message)
        for _ in range(5):
            descriptor = self._open()
            if not self._try_lock(descriptor):
                os.close(descriptor)
                raise AlreadyRunning(self.busy_message)
            if self._still_at_path(descriptor):
                self._descriptor = descriptor
                return
            os.close(descriptor)  # the file was deleted or replaced under us: lock the new one
        raise AlreadyRunning(self.busy_message)

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the description drops the lock
            self._descriptor = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def held_elsewhere(self) -> bool:
        """True when another holder has the lock; never takes it."""
        try:
            descriptor = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            if _OFD_GET is None:
                return False
            # F_OFD_GETLK reports a conflicting lock; a read probe conflicts with any writer.
            answer = fcntl.fcntl(descriptor, _OFD_GET, _request(fcntl.F_RDLCK))
            return struct.unpack(_FLOCK, answer)[0] != fcntl.F_UNLCK
        finally:
            os.close(descriptor)
