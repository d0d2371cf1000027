"""
What runs inside a run's child process.

``python -m action_llama.agent <run file>`` runs the hooks (and, for agents
with models, the LLM session); `action_llama.agent.commands` holds the agent
commands (``al-status``, ``rlock``, ``setenv``, ...) put on the run's PATH.
Nothing here imports Twisted: these modules start often and must start fast.
"""
