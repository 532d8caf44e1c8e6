//! The only module that imports rnix and rowan. (to be written)
