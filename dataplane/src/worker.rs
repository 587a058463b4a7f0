//! The poll loop that runs a forwarding role on worker lcores.
