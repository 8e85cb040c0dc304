//! Setting a value at a dotted path the way the `sjson` library does for
//! trigger parameters' `dest`: numeric parts index arrays (padding with
//! null), `-1` appends, missing parts are created (an array when the next
//! part is numeric), `\` escapes a dot.

use serde_json::{Map, Value as Json};

/// Split a dest path into its parts.
pub fn parts(path: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => part.extend(chars.next()),
            '.' => parts.push(std::mem::take(&mut part)),
            '*' | '?' => return Err(format!("wildcard characters not allowed in path {path:?}")),
            '#' => {
                return Err(format!(
                    "array access character not allowed in path {path:?}"
                ));
            }
            _ => part.push(c),
        }
    }
    parts.push(part);
    Ok(parts)
}

fn index(part: &str) -> Option<usize> {
    (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        .then(|| part.parse().ok())
        .flatten()
}

fn container_for(next: &str) -> Json {
    if index(next).is_some() || next == "-1" {
        Json::Array(Vec::new())
    } else {
        Json::Object(Map::new())
    }
}

/// Set `value` at `path` in `root`.
pub fn set(root: &mut Json, path: &str, value: Json) -> Result<(), String> {
    let parts = parts(path)?;
    let mut current = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if !matches!(current, Json::Object(_) | Json::Array(_)) {
            *current = container_for(part);
        }
        current = match current {
            Json::Object(map) => {
                if last {
                    map.insert(part.clone(), value);
                    return Ok(());
                }
                let next = map
                    .entry(part.clone())
                    .or_insert_with(|| container_for(&parts[i + 1]));
                if !matches!(next, Json::Object(_) | Json::Array(_)) {
                    *next = container_for(&parts[i + 1]);
                }
                next
            }
            Json::Array(items) => {
                let at = if part == "-1" {
                    items.len()
                } else {
                    index(part).ok_or_else(|| {
                        format!("{path:?}: {part:?} is not an index into an array")
                    })?
                };
                if items.len() <= at {
                    items.resize(at + 1, Json::Null);
                }
                if last {
                    items[at] = value;
                    return Ok(());
                }
                if !matches!(items[at], Json::Object(_) | Json::Array(_)) {
                    items[at] = container_for(&parts[i + 1]);
                }
                &mut items[at]
            }
            _ => unreachable!("made a container above"),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn like_sjson() {
        let mut v = json!({"spec": {"arguments": {"parameters": [{"name": "a"}]}}});
        set(&mut v, "spec.arguments.parameters.0.value", json!("1")).unwrap();
        set(&mut v, "spec.arguments.parameters.2.name", json!("c")).unwrap();
        set(
            &mut v,
            "metadata.labels.app\\.kubernetes\\.io/name",
            json!("x"),
        )
        .unwrap();
        set(&mut v, "list.-1", json!("y")).unwrap();
        assert_eq!(
            v,
            json!({
                "spec": {"arguments": {"parameters": [{"name": "a", "value": "1"}, null, {"name": "c"}]}},
                "metadata": {"labels": {"app.kubernetes.io/name": "x"}},
                "list": ["y"],
            })
        );
        assert!(set(&mut v, "a.*", json!(1)).is_err());
    }
}
