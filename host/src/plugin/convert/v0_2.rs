//! Conversions for `troupe:executor@0.2.1`: the shared ones, and a task reference with
//! its `generation`.

use crate::plugin::bindings::v0_2::types as wit;

super::shared_conversions!();

pub(crate) fn task_ref(t: &TaskRef) -> wit::TaskRef {
    wit::TaskRef { index: t.index, actor: t.actor.clone(), attempt: t.attempt, generation: t.generation }
}
