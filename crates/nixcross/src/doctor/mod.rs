//! Host diagnosis from a root directory passed in. (to be written)
