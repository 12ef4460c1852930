//! An example of a custom connector crate written against `connect-core`, with a worker binary
//! that runs it beside the built-in connectors.
