"""Tests for action_llama.runtime."""
