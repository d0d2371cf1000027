"""
What runs inside a run's child process.

``python -m action_llama.agent <run file>`` runs the hooks (and, for agents
with models, the LLM session); `action_llama.agent.commands` holds the agent
commands (``al-status``, ``rlock``, ``setenv``, ...) put on the run's PATH.
These modules start often and must start fast, so they do not import
Twisted; only `action_llama.agent.session` does, and the child imports it
only for agents with models.
"""
