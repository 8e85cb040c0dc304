//! The event data a Sensor sees. Argo Events' GitHub event source
//! (`pkg/eventsources/sources/github/start.go`) decodes the delivery body
//! into a map, sets `X-GitHub-Event` and `X-GitHub-Delivery` in it from the
//! request headers, re-encodes it (Go sorts map keys, numbers pass through
//! float64) and sends `{"headers": <http.Header>, "body": <that>}`. Header
//! names are canonicalised by Go (`X-Github-Event`) and each value is a list.

use serde_json::{Map, Value as Json, json};

/// The delivery id used when wrapping a raw body.
pub const TEST_DELIVERY: &str = "00000000-0000-4000-8000-000000000000";

/// Event data from a file's JSON: used as is when it already has `headers`
/// and `body`, else wrapped as a GitHub delivery of event `github_event`.
pub fn event_data(input: Json, github_event: &str) -> Json {
    if input.get("headers").is_some() && input.get("body").is_some() {
        return input;
    }
    wrap_github(input, github_event, TEST_DELIVERY)
}

/// Wrap a raw GitHub delivery body as the GitHub event source does.
pub fn wrap_github(body: Json, github_event: &str, delivery: &str) -> Json {
    let mut body = go_roundtrip(body);
    if let Json::Object(map) = &mut body {
        map.insert("X-GitHub-Event".into(), Json::String(github_event.into()));
        map.insert("X-GitHub-Delivery".into(), Json::String(delivery.into()));
        body = go_roundtrip(body);
    }
    json!({
        "headers": {
            "Content-Type": ["application/json"],
            "User-Agent": ["GitHub-Hookshot/sandbox-sensor-test"],
            "X-Github-Delivery": [delivery],
            "X-Github-Event": [github_event],
        },
        "body": body,
    })
}

/// What a JSON value looks like after Go decodes it into `interface{}` and
/// encodes it again: object keys sorted, numbers through float64.
fn go_roundtrip(v: Json) -> Json {
    match v {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, go_roundtrip(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Json::Array(items) => Json::Array(items.into_iter().map(go_roundtrip).collect()),
        Json::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            #[allow(clippy::cast_possible_truncation)]
            if f.fract() == 0.0 && f.abs() < 1e21 && f.abs() <= 9_007_199_254_740_992.0 {
                Json::Number((f as i64).into())
            } else {
                serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_a_raw_body() {
        let data = event_data(json!({"b": 1.0, "action": "opened"}), "pull_request");
        assert_eq!(data["headers"]["X-Github-Event"], json!(["pull_request"]));
        assert_eq!(data["body"]["X-GitHub-Event"], "pull_request");
        assert_eq!(data["body"]["b"], json!(1));
        let keys: Vec<&String> = data["body"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["X-GitHub-Delivery", "X-GitHub-Event", "action", "b"]);
    }

    #[test]
    fn keeps_event_data() {
        let data = json!({"headers": {}, "body": {"x": 1}});
        assert_eq!(event_data(data.clone(), "push"), data);
    }
}
