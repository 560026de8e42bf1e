"""Child processes end with the process that started them, even one killed outright (a crashed
server must not leave compute processes holding a model, or a second vector store writer).

Two ways, for two kinds of child:
- commands the server starts itself (`python -m profai.orphans PARENT_PID COMMAND...`) ask Linux
  for SIGTERM when their parent dies, a request that outlives exec, so it covers the Chroma
  server binary too. Linux ties it to the thread that started the child: these are started by
  threads that live as long as the server.
- multiprocessing children (compute processes, the vector store's process) are started by
  whichever thread first needs them, short-lived ones included, so they watch their parent
  instead."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux for SIGTERM when the parent dies (elsewhere, nothing); exit now if it already has."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        sys.exit(1)


def exit_when_parent_exits(interval: float = 1.0) -> None:
    """A daemon thread that ends this process once its parent process is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    die_with_parent(int(sys.argv[1]))
    os.execv(sys.argv[2], sys.argv[2:])
