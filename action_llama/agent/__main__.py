"""
Entry point of a run's child process: ``python -m action_llama.agent <run file>``.

The first thing it does is become a session and process group leader, so that
the runtime can signal everything the run starts as one group; then it moves
into the run's work directory. (The runtime starts the child in its own
directory because that lets Twisted use ``posix_spawn`` rather than copying
the whole service with ``fork``.)
"""

import os
import sys

try:
    os.setsid()
except PermissionError:
    # Already a process group leader (started by hand from a shell, or by
    # sudo's monitor): the group is ours already.
    pass

run_dir = os.environ.get("AL_RUN_DIR")
if run_dir:
    os.chdir(os.path.join(run_dir, "work"))

from action_llama.agent._run import main  # noqa: E402 (after setsid, on purpose)

sys.exit(main(sys.argv[1:]))
