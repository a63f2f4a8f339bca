//! The incident tools offered to models (not built yet).
