//! Test doubles for tftsr (not built yet).
