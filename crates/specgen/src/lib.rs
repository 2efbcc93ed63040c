//! OWNED BY: specgen helper.
