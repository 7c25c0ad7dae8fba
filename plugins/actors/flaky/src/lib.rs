//! `Flaky`: fails the first `failures` calls (default 1) for `key` (default "default"),
//! then returns its input, for trying retries and circuit breakers against a service that
//! recovers. The call count per key lives in the host's state store, so it holds across
//! instances, runs and (on Redis) hosts.

use troupe_sdk::prelude::*;

struct Flaky;

impl Actor for Flaky {
    fn invoke(input: Value) -> Result<Value, String> {
        let key = input.get("key").and_then(Value::as_str).unwrap_or("default");
        let failures = input.get("failures").and_then(Value::as_i64).unwrap_or(1);
        let call = state::increment(&format!("calls/{key}"), 1, None)?;
        if call <= failures {
            Err(format!("flaky: call {call} for `{key}` fails ({failures} will)"))
        } else {
            Ok(input)
        }
    }
}

export_actor!(Flaky);
