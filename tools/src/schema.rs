//! JSON schemas of tool arguments, in the shape chat-completion APIs accept:
//! one self-contained object schema (sub-schemas inlined, no `$schema`).

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

/// The `parameters` schema of a tool taking `A`.
pub fn parameters<A: JsonSchema>() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let schema = generator.into_root_schema_for::<A>();
    let mut value = schema.to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
        obj.entry("properties")
            .or_insert_with(|| serde_json::json!({}));
    }
    value
}
