//! The generated bindings, private to `plugin`: callers see only `crate::api` types.
//! One module per WIT version the host speaks (see [`super::version`]); each has its own
//! linker, so a component reaches exactly the interfaces of the version it targets.

pub(crate) mod v0_1;
pub(crate) mod v0_2;
