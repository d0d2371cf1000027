"""
What the store tests share besides fixtures.
"""

from __future__ import annotations

from twisted.internet import reactor as _global_reactor
from twisted.internet.interfaces import IReactorFromThreads

reactor = IReactorFromThreads(_global_reactor)
"""
The running reactor, as the interface ``Database`` needs.
"""
