//! The [`Actor`] trait: business logic for one task, JSON in, JSON or an error out.

use serde_json::Value;

/// An actor component. Each task may run on a fresh instance: keep nothing in statics.
pub trait Actor {
    /// Process one task's input; an `Err` becomes the task's error message.
    fn invoke(input: Value) -> Result<Value, String>;
}

#[doc(hidden)]
pub mod __private {
    use super::Actor;

    pub fn invoke<A: Actor>(input: String) -> Result<String, String> {
        crate::panic::install_hook();
        let input: serde_json::Value =
            serde_json::from_str(&input).map_err(|e| format!("the host sent an input that is not JSON: {e}"))?;
        A::invoke(input).map(|v| v.to_string())
    }
}

/// Export a type implementing [`Actor`] as this component's `actor`.
#[macro_export]
macro_rules! export_actor {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __TroupeActorExport;

        impl $crate::bindings::actor_world::exports::troupe::executor::actor::Guest for __TroupeActorExport {
            fn invoke(input: String) -> Result<String, String> {
                $crate::__actor_private::invoke::<$ty>(input)
            }
        }

        $crate::bindings::actor_world::__export_actor_world!(__TroupeActorExport with_types_in $crate::bindings::actor_world);
    };
}
