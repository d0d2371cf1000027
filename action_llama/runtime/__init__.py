"""
Starting and stopping agent runs.

`IRuntime` is the seam: the scheduler hands a runtime a `RunSpec` and gets an
`IRunHandle` back, whose ``finished`` Deferred fires with a `RunExit`.
`ProcessRuntime` runs each run as a local child process.
"""

from ._masking import Masker, credential_names
from ._process import CHILD_NICENESS, ProcessRuntime, child_argv
from ._spec import IRunHandle, IRuntime, LogLine, RunExit, RunSpec
from ._staging import CREDENTIAL_ENV

__all__ = [
    "CHILD_NICENESS",
    "CREDENTIAL_ENV",
    "IRunHandle",
    "IRuntime",
    "LogLine",
    "Masker",
    "ProcessRuntime",
    "RunExit",
    "RunSpec",
    "child_argv",
    "credential_names",
]
