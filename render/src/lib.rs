//! Document rendering (not built yet).
