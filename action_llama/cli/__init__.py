"""
The ``al`` command.
"""
