"""
Tests for ``action_llama.config``.
"""
