//! The declarative patch engine (DESIGN §5).

pub mod spec;
