//! Operations. (to be written)
