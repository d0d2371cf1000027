"""
``python -m action_llama`` is the ``al`` command.
"""

from .cli.main import main

main()
