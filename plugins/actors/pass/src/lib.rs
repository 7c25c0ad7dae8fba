//! `Pass`: returns its input unchanged. The actor every pipeline test and benchmark
//! uses to measure troupe itself rather than business logic.

use troupe_sdk::prelude::*;

struct Pass;

impl Actor for Pass {
    fn invoke(input: Value) -> Result<Value, String> {
        Ok(input)
    }
}

export_actor!(Pass);
