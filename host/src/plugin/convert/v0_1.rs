//! Conversions for `troupe:executor@0.1.0`: the shared ones, and a task reference
//! without `generation` (0.1 has none; a 0.1 executor never grows its stage, so its
//! tasks are all generation 0).

use crate::plugin::bindings::v0_1::types as wit;

super::shared_conversions!();

pub(crate) fn task_ref(t: &TaskRef) -> wit::TaskRef {
    wit::TaskRef { index: t.index, actor: t.actor.clone(), attempt: t.attempt }
}
