"""
Tests for ``action_llama.webhooks``.
"""
