//! `troupe:executor/context`: JSONPath over the run's context.
//!
//! Kinds: text that is not JSON, a path that does not parse and a template path that
//! matches nothing are `invalid` (the same call fails again); the context itself comes
//! from the [`StageHost`](crate::StageHost), which says why it cannot give it (no such
//! run: `not-found`; the state store unreachable: `unavailable`).

use crate::api::HostError;
use crate::jsonpath;
use crate::plugin::store::HostState;
use serde_json::Value;

fn parse(what: &str, text: &str) -> Result<Value, HostError> {
    serde_json::from_str(text).map_err(|e| HostError::Invalid(format!("{what} is not JSON: {e}")))
}

fn parse_bindings(bindings: Option<String>) -> Result<Option<Value>, HostError> {
    bindings.map(|b| parse("bindings", &b)).transpose()
}

impl HostState {
    pub(super) fn context_query(&mut self, path: String, bindings: Option<String>) -> Result<String, HostError> {
        let bindings = parse_bindings(bindings)?;
        let context = self.host.context(&self.scope)?;
        if bindings.is_none() {
            return jsonpath::select_json(&context, &path).map_err(HostError::Invalid);
        }
        let found = jsonpath::query(&context, &path, bindings.as_ref()).map_err(HostError::Invalid)?;
        Ok(Value::Array(found).to_string())
    }

    pub(super) fn context_select(&mut self, document: String, path: String) -> Result<String, HostError> {
        let document = parse("document", &document)?;
        Ok(Value::Array(jsonpath::select(&document, &path).map_err(HostError::Invalid)?).to_string())
    }

    pub(super) fn context_resolve_input(
        &mut self,
        template: String,
        bindings: Option<String>,
    ) -> Result<String, HostError> {
        let template = parse("template", &template)?;
        let bindings = parse_bindings(bindings)?;
        let context = self.host.context(&self.scope)?;
        let resolved =
            jsonpath::resolve_input(&context, &template, bindings.as_ref(), "input").map_err(HostError::Invalid)?;
        Ok(resolved.to_string())
    }
}
