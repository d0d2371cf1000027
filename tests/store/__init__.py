"""
Tests for ``action_llama.store``.
"""
