# Integration tests of the command line, lifecycle and robustness.
