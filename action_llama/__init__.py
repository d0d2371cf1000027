"""
action-llama: run autonomous agents on schedules, webhooks and calls.
"""

__version__ = "0.1.0"
