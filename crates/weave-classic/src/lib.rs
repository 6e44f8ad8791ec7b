//! weave-classic
