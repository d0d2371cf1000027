"""Tests for action_llama.agent."""
