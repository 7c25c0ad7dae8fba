//! `Fail`: fails with its input's `message` (default "failed"), for testing failure
//! handling and tolerance.

use troupe_sdk::prelude::*;

struct Fail;

impl Actor for Fail {
    fn invoke(input: Value) -> Result<Value, String> {
        Err(input.get("message").and_then(Value::as_str).unwrap_or("failed").to_string())
    }
}

export_actor!(Fail);
