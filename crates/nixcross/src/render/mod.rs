//! Template rendering. (to be written)
