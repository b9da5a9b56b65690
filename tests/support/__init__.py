"""Test doubles shared by the test suites: a faulty local provider server and its adapter."""
