//! Wire formats (see PROTOCOLS.md).
