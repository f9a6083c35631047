# Integration tests of handlers over every transport.
