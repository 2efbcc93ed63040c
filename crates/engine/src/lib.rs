//! The daemon. OWNED BY: engine helper.
