//! `troupe:executor/context`: JSONPath over the run's context.

use crate::jsonpath;
use crate::plugin::bindings::context::Host;
use crate::plugin::store::HostState;
use serde_json::Value;

fn parse(what: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not JSON: {e}"))
}

fn parse_bindings(bindings: Option<String>) -> Result<Option<Value>, String> {
    bindings.map(|b| parse("bindings", &b)).transpose()
}

impl Host for HostState {
    fn query(&mut self, path: String, bindings: Option<String>) -> Result<String, String> {
        let bindings = parse_bindings(bindings)?;
        let context = self.host.context(&self.scope).map_err(|e| e.to_string())?;
        if bindings.is_none() {
            return jsonpath::select_json(&context, &path);
        }
        let found = jsonpath::query(&context, &path, bindings.as_ref())?;
        Ok(Value::Array(found).to_string())
    }

    fn select(&mut self, document: String, path: String) -> Result<String, String> {
        let document = parse("document", &document)?;
        Ok(Value::Array(jsonpath::select(&document, &path)?).to_string())
    }

    fn resolve_input(&mut self, template: String, bindings: Option<String>) -> Result<String, String> {
        let template = parse("template", &template)?;
        let bindings = parse_bindings(bindings)?;
        let context = self.host.context(&self.scope).map_err(|e| e.to_string())?;
        Ok(jsonpath::resolve_input(&context, &template, bindings.as_ref(), "input")?.to_string())
    }
}
