"""Tests of p8j.replay."""
