//! Helpers shared by the test modules: running the built binary, fixtures.
