"""
Tests for the scheduler.
"""
