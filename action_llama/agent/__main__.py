"""
Entry point of a run's child process: ``python -m action_llama.agent <run file>``.

The first thing it does is become a session and process group leader, so that
the runtime can signal everything the run starts as one group.
"""

import os
import sys

try:
    os.setsid()
except PermissionError:
    # Already a process group leader (started by hand from a shell, or by
    # sudo's monitor): the group is ours already.
    pass

from action_llama.agent._run import main

sys.exit(main(sys.argv[1:]))
