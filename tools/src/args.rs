//! Argument parsing and the checks every tool shares.
//!
//! Models send arguments as JSON text, sometimes sloppy. Parsing is strict
//! (unknown fields are refused, types must match) and the error names the
//! field, so the model can correct the call instead of guessing.

use serde::de::DeserializeOwned;

use crate::error::ToolError;

/// Parses raw argument text: empty means `{}`; anything else must be a JSON
/// object matching `A`.
pub fn parse<A: DeserializeOwned>(tool: &str, raw: &str) -> Result<A, ToolError> {
    let trimmed = raw.trim();
    let value: serde_json::Value = if trimmed.is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(trimmed).map_err(|e| {
            ToolError::invalid(
                tool,
                format!("the arguments are not valid JSON ({e}); send one JSON object matching the tool's schema"),
            )
        })?
    };
    parse_value(tool, value)
}

/// Parses an already decoded JSON value.
pub fn parse_value<A: DeserializeOwned>(
    tool: &str,
    value: serde_json::Value,
) -> Result<A, ToolError> {
    if !value.is_object() {
        return Err(ToolError::invalid(
            tool,
            format!(
                "the arguments must be a JSON object, got {}",
                kind_of(&value)
            ),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let message = if path == "." || path.is_empty() {
            inner
        } else {
            format!("`{path}`: {inner}")
        };
        ToolError::invalid(tool, message)
    })
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `field` must lie in `min..=max`.
pub fn in_range<T: PartialOrd + std::fmt::Display>(
    tool: &str,
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ToolError> {
    if value < min || value > max {
        return Err(ToolError::invalid(
            tool,
            format!("`{field}` must be {min}–{max}, got {value}"),
        ));
    }
    Ok(value)
}

/// `field` must contain something other than whitespace, and at most `max`
/// characters. Returns it trimmed.
pub fn text(tool: &str, field: &str, value: &str, max: usize) -> Result<String, ToolError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(ToolError::invalid(
            tool,
            format!("`{field}` must not be empty"),
        ));
    }
    let n = t.chars().count();
    if n > max {
        return Err(ToolError::invalid(
            tool,
            format!("`{field}` must be at most {max} characters, got {n}"),
        ));
    }
    Ok(t.to_string())
}

/// Like [`text`] for optional fields: `None` and blank stay `None`.
pub fn opt_text(
    tool: &str,
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ToolError> {
    match value {
        Some(v) if !v.trim().is_empty() => text(tool, field, v, max).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct A {
        level: u8,
        question: String,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<A>("t", r#"{"level": "two", "question": "q"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`level`: invalid type: string \"two\""),
            "{e}"
        );
        let e = parse::<A>("t", r#"{"level": 2}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `question`"), "{e}");
        let e = parse::<A>("t", r#"{"level": 2, "question": "q", "lvl": 3}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `lvl`"), "{e}");
        let e = parse::<A>("t", "[1]").unwrap_err();
        assert!(
            e.to_string()
                .contains("must be a JSON object, got an array"),
            "{e}"
        );
        let e = parse::<A>("t", "{level: 2").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let e = in_range("t", "level", 7, 1, 5).unwrap_err();
        assert_eq!(
            e.model_message(),
            "invalid arguments for `t`: `level` must be 1–5, got 7"
        );
    }
}
