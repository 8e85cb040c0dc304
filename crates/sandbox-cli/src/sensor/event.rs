//! The event data a Sensor sees. Argo Events' GitHub event source
//! (`pkg/eventsources/sources/github/start.go`) decodes the delivery body
//! into a map, sets `X-GitHub-Event` and `X-GitHub-Delivery` in it from the
//! request headers, re-encodes it (Go sorts map keys, numbers pass through
//! float64) and sends `{"headers": <http.Header>, "body": <that>}`. Header
//! names are canonicalised by Go (`X-Github-Event`) and each value is a list.
//!
//! An event also has a CloudEvents context (`pkg/eventsources/eventing.go`
//! sets `type` to the event source's type, `source` to the EventSource's
//! name, `subject` to the event's name, `time` to the time it was received),
//! which context filters, time filters and `contextKey` parameters read.

use super::gotime::{self, Instant};
use serde_json::{Map, Value as Json, json};

/// One event handed to sensor-test.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// How it is named in the output (the file, or NAME=FILE).
    pub label: String,
    /// The dependencies it reaches: `None` reaches every dependency.
    pub target: Option<Target>,
    /// What is known of its context.
    pub context: Context,
    /// The event's data, the bytes as the Sensor receives them.
    pub data: String,
}

/// `--event SOURCE:NAME=FILE`: the EventSource and event name a delivery
/// comes from; a dependency receives it when both match (`*` or an absent
/// name matches any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The EventSource's `metadata.name` (a dependency's `eventSourceName`).
    pub event_source_name: String,
    /// The event's name in that EventSource (a dependency's `eventName`).
    pub event_name: Option<String>,
}

impl Target {
    /// Parse `SOURCE:NAME` or `SOURCE`.
    pub fn parse(text: &str) -> Target {
        match text.split_once(':') {
            Some((source, name)) => Target {
                event_source_name: source.to_string(),
                event_name: (name != "*").then(|| name.to_string()),
            },
            None => Target {
                event_source_name: text.to_string(),
                event_name: None,
            },
        }
    }

    /// Whether a dependency with these names receives the event.
    pub fn reaches(&self, event_source_name: &str, event_name: &str) -> bool {
        (self.event_source_name == "*" || self.event_source_name == event_source_name)
            && self.event_name.as_deref().is_none_or(|n| n == event_name)
    }
}

/// An event's CloudEvents context. `None` is a field sensor-test does not
/// know; `source` and `subject` default to the receiving dependency's
/// `eventSourceName` and `eventName`, as the event source sets them.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// `id`.
    pub id: String,
    /// `source`: the EventSource's name.
    pub source: Option<String>,
    /// `specversion`.
    pub spec_version: String,
    /// `type`: the event source's type (`github`, `webhook`, …).
    pub kind: Option<String>,
    /// `datacontenttype`.
    pub data_content_type: String,
    /// `subject`: the event's name.
    pub subject: Option<String>,
    /// `time`.
    pub time: Instant,
    /// Whether `time` came from the event file (else it is now).
    pub time_given: bool,
}

impl Context {
    /// The defaults an event source gives a fresh event, received now.
    pub fn received_now(kind: Option<&str>) -> Context {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Context {
            id: TEST_DELIVERY.replace('-', ""),
            source: None,
            spec_version: "1.0".into(),
            kind: kind.map(str::to_string),
            data_content_type: "application/json".into(),
            subject: None,
            time: Instant {
                secs: i64::try_from(now.as_secs()).unwrap_or(0),
                nanos: 0,
            },
            time_given: false,
        }
    }

    /// The context as a dependency with these names receives it.
    #[must_use]
    pub fn for_dependency(&self, event_source_name: &str, event_name: &str) -> Context {
        let mut ctx = self.clone();
        ctx.source
            .get_or_insert_with(|| event_source_name.to_string());
        ctx.subject.get_or_insert_with(|| event_name.to_string());
        ctx
    }

    /// `json.Marshal(&event.Context)` (`metav1.Time` prints RFC 3339 in UTC,
    /// seconds precision); `None` when a field is unknown.
    pub fn to_go_json(&self) -> Option<String> {
        let value = json!({
            "id": self.id,
            "source": self.source.as_ref()?,
            "specversion": self.spec_version,
            "type": self.kind.as_ref()?,
            "datacontenttype": self.data_content_type,
            "subject": self.subject.as_ref()?,
            "time": gotime::format_rfc3339(self.time),
        });
        Some(value.to_string())
    }
}

/// Read an event file: `{"context": {…}, "data": …}` (an Argo Events
/// event with its context), `{"headers": …, "body": …}` (event data as is),
/// or a raw GitHub delivery body, wrapped as the GitHub event source does
/// with `github_event`. With `github_event` `None` the text is the event's
/// data as is.
pub fn load(text: &str, github_event: Option<&str>) -> Result<(Context, String), String> {
    let value: Json =
        serde_json::from_str(text).map_err(|e| format!("the event is not JSON: {e}"))?;
    let Some(github_event) = github_event else {
        return Ok((Context::received_now(None), text.to_string()));
    };
    if let Json::Object(map) = &value
        && map.len() == 2
        && map.get("context").is_some_and(Json::is_object)
        && map.contains_key("data")
    {
        let ctx = &map["context"];
        let mut context = Context::received_now(None);
        let field = |k: &str| ctx.get(k).and_then(Json::as_str).map(str::to_string);
        if let Some(id) = field("id") {
            context.id = id;
        }
        context.source = field("source");
        context.subject = field("subject");
        context.kind = field("type");
        if let Some(v) = field("specversion") {
            context.spec_version = v;
        }
        if let Some(v) = field("datacontenttype") {
            context.data_content_type = v;
        }
        if let Some(t) = field("time") {
            context.time = gotime::parse_rfc3339(&t)
                .map_err(|e| format!("context.time is not RFC 3339: {e}"))?;
            context.time_given = true;
        }
        let data = gjson::get(text, "data").json().to_string();
        return Ok((context, data));
    }
    if value.get("headers").is_some() && value.get("body").is_some() {
        return Ok((Context::received_now(None), text.to_string()));
    }
    let data = wrap_github(value, github_event, TEST_DELIVERY);
    Ok((Context::received_now(Some("github")), data.to_string()))
}

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
